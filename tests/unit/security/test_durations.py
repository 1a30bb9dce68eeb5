"""Durations of the key commands: 90d, 12h, 1w2d, 0."""

from __future__ import annotations

from datetime import timedelta

import pytest

from facewatch.cli.common import parse_duration
from facewatch.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("1w2d", timedelta(days=9)),
        ("1.5h", timedelta(minutes=90)),
        ("0", timedelta(0)),
    ],
)
def test_durations_read_as_people_write_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "12", "3x", "-1d", "1d and more"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_duration(text)
