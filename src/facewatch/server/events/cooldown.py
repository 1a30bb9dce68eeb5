"""The cooldown: someone standing in front of a camera raises one event, not one per frame."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta


class Cooldown:
    """Remembers when each (identity, camera) was last seen, by capture time.

    A sighting raises an event only if the same identity was not seen on the same camera
    within ``seconds`` before (or after: uploads from an edge outbox can arrive out of
    order). Every sighting, raised or not, restarts the window, so a person who stays in
    view raises one event however long they stay.
    """

    def __init__(self, seconds: float, max_entries: int = 50_000) -> None:
        self._window = timedelta(seconds=seconds)
        self._max_entries = max_entries
        self._last_seen: dict[Hashable, datetime] = {}

    def __len__(self) -> int:
        return len(self._last_seen)

    def allow(self, key: Hashable, when: datetime) -> bool:
        """Record a sighting of ``key`` at ``when``; whether it may raise an event."""
        last = self._last_seen.get(key)
        self._last_seen[key] = when if last is None else max(last, when)
        if len(self._last_seen) > self._max_entries:
            self._forget_before(when - self._window)
        return last is None or abs(when - last) >= self._window

    def _forget_before(self, moment: datetime) -> None:
        stale = [key for key, seen in self._last_seen.items() if seen < moment]
        for key in stale:
            del self._last_seen[key]
        if len(self._last_seen) > self._max_entries:
            # Everything is recent (a flood of distinct faces): keep the newest half.
            newest = sorted(self._last_seen.items(), key=lambda item: item[1])
            self._last_seen = dict(newest[len(newest) // 2 :])
