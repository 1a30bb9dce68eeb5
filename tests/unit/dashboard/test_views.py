"""Pure helpers of the dashboard pages: the camera trail, merged pages, paging, redirects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewatch.dashboard.views import Pager, Visit, newest_first, trail
from facewatch.dashboard.web import safe_next
from facewatch.server.schemas import DetectionOut
from facewatch.types import MatchStatus

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def detection(id: int, camera: str | None, minute: int) -> DetectionOut:
    moment = T0 + timedelta(minutes=minute)
    return DetectionOut(
        id=id,
        captured_at=moment,
        received_at=moment,
        camera_id=camera,
        person_id=1,
        name="alice",
        status=MatchStatus.KNOWN,
        distance=0.3,
        confidence=0.9,
        quality=0.8,
        box=[0, 0, 10, 10],
        track_id=None,
        edge_id=None,
        crop_sha256=None,
    )


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_the_trail_merges_consecutive_sightings_at_one_camera_oldest_first() -> None:
    newest_first_rows = [
        detection(5, "gate", 9),
        detection(4, "lobby", 7),
        detection(3, "lobby", 5),
        detection(2, "gate", 1),
        detection(1, "gate", 0),
    ]
    assert trail(newest_first_rows) == [
        Visit("gate", at(0), at(1), 2),
        Visit("lobby", at(5), at(7), 2),
        Visit("gate", at(9), at(9), 1),
    ]


def test_an_empty_timeline_has_no_trail() -> None:
    assert trail([]) == []


def test_merged_pages_are_newest_first_across_lists() -> None:
    gate = [detection(4, "gate", 8), detection(1, "gate", 2)]
    lobby = [detection(3, "lobby", 6), detection(2, "lobby", 4)]
    page = newest_first([gate, lobby], offset=1, limit=2)
    assert [d.id for d in page] == [3, 2]


@pytest.mark.parametrize(
    ("offset", "limit", "total", "previous", "next", "first", "last"),
    [
        (0, 10, 0, None, None, 0, 0),
        (0, 10, 25, None, 10, 1, 10),
        (10, 10, 25, 0, 20, 11, 20),
        (20, 10, 25, 10, None, 21, 25),
        (5, 10, 25, 0, 15, 6, 15),
    ],
)
def test_the_pager_knows_where_neighbouring_pages_start(
    offset: int,
    limit: int,
    total: int,
    previous: int | None,
    next: int | None,
    first: int,
    last: int,
) -> None:
    pager = Pager(offset, limit, total)
    assert (pager.previous, pager.next) == (previous, next)
    assert (pager.first_shown, pager.last_shown) == (first, last)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/people/3", "/people/3"),
        ("/detections?camera=gate", "/detections?camera=gate"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("people", "/"),
        ("/a\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_only_paths_on_this_site_are_followed_after_login(
    target: str | None, expected: str
) -> None:
    assert safe_next(target) == expected
