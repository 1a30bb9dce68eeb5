"""How strangers and their sightings are shaped for the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewatch.dashboard.stranger_views import short_id, sightings_by_day
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
