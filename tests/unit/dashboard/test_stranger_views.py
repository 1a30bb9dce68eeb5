"""How strangers and their sightings are shaped for the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewatch.dashboard.stranger_views import (
    Queue,
    following_ids,
    queue_link,
    queue_of,
    short_id,
    sightings_by_day,
)
from facewatch.server.schemas import DetectionOut
from facewatch.types import MatchStatus

MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)


def sighting(n: int, hours: float) -> DetectionOut:
    seen = MIDNIGHT + timedelta(hours=hours)
    return DetectionOut(
        id=n, captured_at=seen, received_at=seen, camera_id="gate", person_id=None, name=None,
        status=MatchStatus.UNKNOWN, distance=None, confidence=0.9, quality=0.5, box=[0, 0, 9, 9],
        track_id=None, edge_id=None, crop_sha256=None, unknown_id="unknown-93e40bc67421",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("unknown_id", "shown"),
    [("unknown-93e40bc67421", "#93e40bc67421"), ("legacy-7", "#legacy-7")],
)
def test_a_stranger_is_shown_by_the_hex_of_their_id(unknown_id: str, shown: str) -> None:
    assert short_id(unknown_id) == shown


def test_sightings_are_grouped_by_utc_day_newest_first() -> None:
    days = sightings_by_day([sighting(1, -1), sighting(2, 1), sighting(3, 5), sighting(4, -30)])
    assert [str(day.day) for day in days] == ["2026-03-02", "2026-03-01", "2026-02-28"]
    assert [[s.id for s in day.sightings] for day in days] == [[3, 2], [1], [4]]


def test_no_sightings_make_no_days() -> None:
    assert sightings_by_day([]) == []


@pytest.mark.parametrize(
    ("back", "then", "expected_back", "expected_after"),
    [
        (
            "/strangers?camera=c1",
            "unknown-0b",
            "/strangers?camera=c1#card-unknown-0a",
            "/strangers?camera=c1#card-unknown-0b",
        ),
        ("", "", "/strangers#card-unknown-0a", "/strangers"),
        (
            "https://evil.example/strangers",
            "unknown-0b",
            "/strangers#card-unknown-0a",
            "/strangers#card-unknown-0b",
        ),
        ("/people", 'x"><script>', "/strangers#card-unknown-0a", "/strangers"),
        ("/strangers?x=1#card-unknown-0c", "", "/strangers#card-unknown-0a", "/strangers"),
    ],
)
def test_a_stranger_page_leads_back_into_the_strangers_list_only(
    back: str, then: str, expected_back: str, expected_after: str
) -> None:
    assert queue_of("unknown-0a", back, then) == Queue(expected_back, expected_after)


def test_each_card_goes_on_to_the_next_one_and_the_last_to_the_one_before() -> None:
    assert following_ids(["a", "b", "c"]) == {"a": "b", "b": "c", "c": "b"}
    assert following_ids(["a"]) == {"a": None}
    link = queue_link("unknown-0a", "/strangers?camera=c1", "unknown-0b")
    assert link == "/strangers/unknown-0a?back=%2Fstrangers%3Fcamera%3Dc1&then=unknown-0b"
