"""dlib's serialisation primitives, read back from bytes written as dlib writes them."""

from __future__ import annotations

import numpy as np
import pytest

from facewatch.vision.convert.dlib_format import DlibFormatError, DlibReader

from . import dlib_writer as write


@pytest.mark.parametrize("value", [0, 1, 2, 127, 255, 256, 65_535, -1, -300, 2**40, -(2**62)])
def test_integers_read_back_as_written(value: int) -> None:
    assert DlibReader(write.integer(value)).read_int() == value


def test_a_negative_integer_sets_the_sign_bit_of_the_control_byte() -> None:
    assert DlibReader(b"\x81\x05").read_int() == -5


@pytest.mark.parametrize("value", [0.0, 1.0, -2.5, 0.04, 0.6, 122.78199768066406, 1e-30, -3e20])
def test_floats_read_back_as_mantissa_and_exponent(value: float) -> None:
    assert DlibReader(write.real(value)).read_float() == value


@pytest.mark.parametrize(("raw", "value"), [(b"1", True), (b"0", False)])
def test_bools_are_ascii_digits(raw: bytes, value: bool) -> None:
    assert DlibReader(raw).read_bool() is value


def test_strings_are_a_length_then_bytes() -> None:
    reader = DlibReader(write.string("con_4") + write.string(""))

    assert (reader.read_string(), reader.read_string(), reader.remaining) == ("con_4", "", 0)


def test_a_tensor_reads_as_a_float32_array_of_its_four_dimensions() -> None:
    values = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 7

    read = DlibReader(write.tensor(values)).read_tensor()

    assert read.dtype == np.float32
    np.testing.assert_array_equal(read, values)


def test_an_alias_tensor_is_only_a_shape() -> None:
    assert DlibReader(write.alias(32, 3, 7, 7)).read_alias_tensor() == (32, 3, 7, 7)


@pytest.mark.parametrize(
    ("raw", "read", "message"),
    [
        (b"", "read_int", "end of file"),
        (b"\x04\x01\x02", "read_int", "end of file"),
        (b"\x7f", "read_int", "not an integer"),
        (b"\x19" + b"\x00" * 9, "read_int", "not an integer"),
        (b"x", "read_bool", "not a serialised bool"),
        (write.integer(10) + b"abc", "read_string", "end of file"),
        (write.integer(-1), "read_string", "impossible"),
        (write.integer(2) + write.integer(1) * 4 + b"\x00\x00", "read_tensor", "end of file"),
        (write.integer(1) + write.integer(1) * 4, "read_tensor", "tensor version 1"),
    ],
)
def test_bad_or_truncated_bytes_raise_a_format_error(raw: bytes, read: str, message: str) -> None:
    with pytest.raises(DlibFormatError, match=message):
        getattr(DlibReader(raw), read)()
