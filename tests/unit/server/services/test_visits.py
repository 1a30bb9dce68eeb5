"""Visits from sightings: one per identity and place, cut where the gap is too long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewatch.server.services.visits import Sighting, group_visits

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
GAP = timedelta(minutes=5)


def at(
    minutes: float, place: str = "gate", person: int | None = 1, unknown: str | None = None
) -> Sighting:
    return Sighting(T0 + timedelta(minutes=minutes), place, person, unknown)


@pytest.mark.parametrize(
    ("sightings", "expected"),
    [
        ([at(0), at(2), at(4)], [("gate", 0, 4, 3)]),
        ([at(0), at(5)], [("gate", 0, 5, 2)]),  # a gap of exactly the limit stays one visit
        ([at(0), at(5.5)], [("gate", 0, 0, 1), ("gate", 5.5, 5.5, 1)]),
        ([at(0), at(1, "hall"), at(2)], [("gate", 0, 2, 2), ("hall", 1, 1, 1)]),
        ([at(4), at(0), at(2)], [("gate", 0, 4, 3)]),  # order of arrival does not matter
    ],
    ids=["one stay", "gap at the limit", "gap over the limit", "two places", "unsorted"],
)
def test_sightings_group_into_visits_by_place_and_gap(
    sightings: list[Sighting], expected: list[tuple[str, float, float, int]]
) -> None:
    found = [
        (
            v.place,
            (v.arrival - T0).total_seconds() / 60,
            (v.departure - T0).total_seconds() / 60,
            v.detections,
        )
        for v in group_visits(sightings, GAP)
    ]
    assert found == expected


def test_two_identities_at_one_place_have_visits_of_their_own() -> None:
    found = group_visits([at(0, person=1), at(1, person=2), at(2, person=1)], GAP)
    assert [(v.person_id, v.detections) for v in found] == [(1, 2), (2, 1)]


def test_a_stranger_has_visits_under_their_unknown_id() -> None:
    [visit] = group_visits(
        [at(0, person=None, unknown="unknown-a"), at(3, person=None, unknown="unknown-a")], GAP
    )
    assert (visit.person_id, visit.unknown_id, visit.duration) == (
        None,
        "unknown-a",
        timedelta(minutes=3),
    )


def test_sightings_of_nobody_make_no_visit() -> None:
    assert group_visits([at(0, person=None, unknown=None)], GAP) == []
