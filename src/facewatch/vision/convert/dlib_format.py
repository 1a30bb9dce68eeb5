"""dlib's binary serialisation (dlib/serialize.h, dlib/dnn/tensor.h), read from bytes.

The primitives every dlib model file is made of:

* integers: a control byte (low nibble: how many value bytes follow; bit 0x80: negative),
  then the magnitude little-endian in that many bytes;
* floats and doubles: two integers, mantissa and exponent (value = mantissa * 2**exponent);
* bools: one ASCII byte, ``'0'`` or ``'1'``;
* strings: a length (integer), then the bytes;
* tensors: version 2, four dimensions (samples, k, rows, cols), then raw float32 LE;
* alias tensors (shapes only): version 1, then the four dimensions.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

_MAX_INT_BYTES = 8
_FLOAT_FORMAT_BITS = 0x70
"""Bits that are never set in the control byte of an integer (dlib's old ASCII floats set them)."""
_TENSOR_VERSION = 2
_ALIAS_TENSOR_VERSION = 1
_MAX_STRING = 1 << 16
"""Longest string accepted: version strings are short, a bigger length means a corrupt file."""

FloatArray = npt.NDArray[np.float32]
Shape4 = tuple[int, int, int, int]


class DlibFormatError(ValueError):
    """The bytes are not what dlib would have written there (corrupt, truncated, other model)."""


class DlibReader:
    """Reads dlib's serialised values one after another from an in-memory file."""

    def __init__(self, data: bytes | memoryview) -> None:
        self._data = memoryview(data)
        self.offset = 0

    @property
    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self._data) - self.offset

    def take(self, count: int) -> memoryview:
        """The next ``count`` raw bytes."""
        if count < 0 or count > self.remaining:
            raise DlibFormatError(
                f"unexpected end of file at byte {self.offset}: {count} more bytes needed, "
                f"{self.remaining} left (truncated?)"
            )
        chunk = self._data[self.offset : self.offset + count]
        self.offset += count
        return chunk

    def read_int(self) -> int:
        """A signed or unsigned integer of any width."""
        start = self.offset
        control = self.take(1)[0]
        size = control & 0x0F
        if control & _FLOAT_FORMAT_BITS or size > _MAX_INT_BYTES:
            raise DlibFormatError(f"byte {start}: 0x{control:02x} is not an integer control byte")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def read_float(self) -> float:
        """A float or double (mantissa and exponent)."""
        mantissa = self.read_int()
        exponent = self.read_int()
        return math.ldexp(mantissa, exponent)

    def read_bool(self) -> bool:
        start = self.offset
        byte = bytes(self.take(1))
        if byte not in (b"0", b"1"):
            raise DlibFormatError(f"byte {start}: {byte!r} is not a serialised bool")
        return byte == b"1"

    def read_string(self) -> str:
        start = self.offset
        length = self.read_int()
        if not 0 <= length <= _MAX_STRING:
            raise DlibFormatError(f"byte {start}: string length {length} is impossible")
        raw = bytes(self.take(length))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise DlibFormatError(f"byte {start}: {raw[:32]!r} is not a version string") from None

    def expect_version(self, what: str, *accepted: int) -> int:
        """An integer version that must be one of ``accepted``."""
        start = self.offset
        version = self.read_int()
        if version not in accepted:
            raise DlibFormatError(f"byte {start}: {what} version {version}, expected {accepted}")
        return version

    def read_shape(self) -> Shape4:
        dims = (self.read_int(), self.read_int(), self.read_int(), self.read_int())
        if any(d < 0 for d in dims):
            raise DlibFormatError(f"byte {self.offset}: negative tensor dimensions {dims}")
        return dims

    def read_tensor(self) -> FloatArray:
        """A resizable tensor as a float32 array of shape (samples, k, rows, cols)."""
        self.expect_version("tensor", _TENSOR_VERSION)
        shape = self.read_shape()
        count = math.prod(shape)
        raw = self.take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def read_alias_tensor(self) -> Shape4:
        """An alias tensor: only a shape (a view into a layer's parameter tensor)."""
        self.expect_version("alias tensor", _ALIAS_TENSOR_VERSION)
        return self.read_shape()
