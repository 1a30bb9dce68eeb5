"""CSV cells a spreadsheet opens as text, never as a formula."""

from __future__ import annotations

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """``value``, with a text that a spreadsheet would run as a formula (a person named
    ``=HYPERLINK(...)``) prefixed with a single quote, which shows it as text."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
