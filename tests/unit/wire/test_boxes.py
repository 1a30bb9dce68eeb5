"""A box has one form on the wire, written and read by the same two functions."""

from __future__ import annotations

import pytest

from facewatch.errors import InvalidInput
from facewatch.types import Box
from facewatch.wire import decode_box, encode_box


def test_a_box_comes_back_from_its_form_field_and_from_json_the_same() -> None:
    box = Box(3, 4, 50, 60)

    assert encode_box(box) == "3,4,50,60"
    assert decode_box(encode_box(box)) == box
    assert decode_box(box.as_list()) == box


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1,2,3", "four integers"),
        ("1,2,3,4,5", "four integers"),
        ("a,b,c,d", "four integers"),
        ([1, 2, None, 4], "four integers"),
        ("10,0,5,5", "right > left"),
        ("0,10,5,5", "bottom > top"),
        ("0,0,2000000,5", "within [+]-1000000"),
    ],
)
def test_a_malformed_box_is_refused_with_what_is_wrong(
    value: str | list[int], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        decode_box(value, "face_box")

    assert refused.value.message.startswith("face_box")
