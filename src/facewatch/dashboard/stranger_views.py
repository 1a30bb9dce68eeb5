"""Pure helpers that shape strangers and their sightings for the pages (no I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from urllib.parse import urlencode

from facewatch.server.schemas import DetectionOut

_PREFIX = "unknown-"
_LIST = "/strangers"
_ID = re.compile(r"^unknown-[0-9a-f]{1,64}$")


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


@dataclass(frozen=True, slots=True)
class Queue:
    """Where a stranger's page sends the operator back to, so that a queue of strangers is
    cleared card after card: the list as it was filtered, at this card (Back) or at the
    card that followed it (once this one is named or deleted, it is gone from the list)."""

    back: str
    after: str


def queue_link(unknown_id: str, list_url: str, following: str | None) -> str:
    """The link from a card on the list at ``list_url`` to its stranger's page."""
    query = {"back": list_url} | ({"then": following} if following else {})
    return f"{_LIST}/{unknown_id}?{urlencode(query)}"


def following_ids(ids: Sequence[str]) -> dict[str, str | None]:
    """For each card of a list, the card an operator goes on to: the next one, or the one
    before for the last card."""
    following: dict[str, str | None] = {}
    for n, unknown_id in enumerate(ids):
        later = ids[n + 1] if n + 1 < len(ids) else (ids[n - 1] if n else None)
        following[unknown_id] = later
    return following


def queue_of(unknown_id: str, back: str, then: str) -> Queue:
    """The ``back`` and ``then`` a card's link gave, checked: only the strangers' list, and
    a stranger's id, are kept."""
    path = back if back == _LIST or back.startswith(_LIST + "?") else _LIST
    if any(c in path for c in "#\\") or any(ord(c) < 0x20 for c in path):
        path = _LIST
    after = f"{path}#card-{then}" if _ID.match(then) else path
    return Queue(back=f"{path}#card-{unknown_id}", after=after)
