"""The cooldown: one event per person and camera while they stay in view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from facewatch.server.events.cooldown import Cooldown

T0 = datetime(2026, 1, 1, tzinfo=UTC)

# (seconds after T0, key) in arrival order -> whether each may raise; window 60 s
SEQUENCES = {
    "first sighting raises": ([(0, "a")], [True]),
    "staying in view raises once": (
        [(0, "a"), (30, "a"), (80, "a"), (130, "a")],
        [True, False, False, False],
    ),
    "coming back after the window raises again": ([(0, "a"), (60, "a")], [True, True]),
    "keys are independent": ([(0, "a"), (1, "b")], [True, True]),
    "a late upload inside the window does not raise": ([(100, "a"), (50, "a")], [True, False]),
    "a late upload far in the past raises": ([(100, "a"), (0, "a")], [True, True]),
}


@pytest.mark.parametrize(("sightings", "expected"), SEQUENCES.values(), ids=SEQUENCES)
def test_the_cooldown_window_restarts_with_every_sighting(
    sightings: list[tuple[int, str]], expected: list[bool]
) -> None:
    cooldown = Cooldown(60)
    assert [cooldown.allow(key, T0 + timedelta(seconds=s)) for s, key in sightings] == expected


def test_a_zero_cooldown_lets_every_sighting_raise() -> None:
    cooldown = Cooldown(0)
    assert all(cooldown.allow("a", T0) for _ in range(3))


def test_the_cooldown_forgets_old_entries_when_full() -> None:
    cooldown = Cooldown(60, max_entries=10)
    for i in range(10):
        cooldown.allow(f"old-{i}", T0)
    cooldown.allow("new", T0 + timedelta(hours=1))
    assert len(cooldown) == 1
