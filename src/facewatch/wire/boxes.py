"""A face box on the wire: ``"left,top,right,bottom"`` in a form field, four integers in JSON.

``encode_box`` is the only writer and ``decode_box`` the only reader, on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence

from facewatch.errors import InvalidInput
from facewatch.types import Box

MAX_COORDINATE = 1_000_000


def encode_box(box: Box) -> str:
    """The form-field form of a box: ``"left,top,right,bottom"``."""
    return ",".join(str(value) for value in box.as_list())


def decode_box(value: str | Sequence[int], what: str = "box") -> Box:
    """A box from a form field (``"l,t,r,b"``) or a JSON list; ``InvalidInput`` if malformed."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        left, top, right, bottom = (int(part) for part in parts)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be four integers: left,top,right,bottom") from None
    if right <= left or bottom <= top:
        raise InvalidInput(f"{what} must have right > left and bottom > top")
    if max(abs(left), abs(top), abs(right), abs(bottom)) > MAX_COORDINATE:
        raise InvalidInput(f"{what} coordinates must lie within +-{MAX_COORDINATE}")
    return Box(left, top, right, bottom)
