"""Pure helpers that shape strangers and their sightings for the pages (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date

from facewatch.server.schemas import DetectionOut

_PREFIX = "unknown-"


def short_id(unknown_id: str) -> str:
    """How a stranger is shown: ``unknown-93e40bc67421`` as ``#93e40bc67421``."""
    return "#" + unknown_id.removeprefix(_PREFIX)


@dataclass(frozen=True, slots=True)
class Day:
    """The sightings of one UTC day, newest first."""

    day: date
    sightings: list[DetectionOut]


def sightings_by_day(sightings: Iterable[DetectionOut]) -> list[Day]:
    """Sightings grouped by UTC day, newest day first and newest first within a day."""
    days: dict[date, list[DetectionOut]] = {}
    ordered = sorted(sightings, key=lambda d: (d.captured_at, d.id), reverse=True)
    for sighting in ordered:
        days.setdefault(sighting.captured_at.astimezone(UTC).date(), []).append(sighting)
    return [Day(day, items) for day, items in days.items()]
