"""A small writer of dlib's serialisation, to make model files the converter must read.

Written from dlib's serialize.h and dnn sources like the reader, but independently of it,
so that the tests exercise the reader against bytes it did not produce itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def integer(value: int) -> bytes:
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def real(value: float) -> bytes:
    mantissa, exponent = math.frexp(value)
    return integer(int(mantissa * 2**53)) + integer(exponent - 53)


def boolean(value: bool) -> bytes:
    return b"1" if value else b"0"


def string(value: str) -> bytes:
    return integer(len(value)) + value.encode()


def tensor(values: np.ndarray) -> bytes:
    shape = [*values.shape, 1, 1, 1, 1][:4]
    if values.size == 0:
        shape = [0, 0, 0, 0]
    return (
        integer(2)
        + b"".join(integer(d) for d in shape)
        + np.ascontiguousarray(values, dtype="<f4").tobytes()
    )


def alias(*shape: int) -> bytes:
    return integer(1) + b"".join(integer(d) for d in shape)


EMPTY = tensor(np.zeros((0,), dtype=np.float32))


# --- layers ---------------------------------------------------------------------------------


def input_rgb(mean: Sequence[float], size: int) -> bytes:
    return string("input_rgb_image_sized") + b"".join(real(m) for m in mean) + integer(size) * 2


def con(
    weights: np.ndarray,
    bias: np.ndarray | None,
    stride: int,
    *,
    version: str = "con_6",
    relu: bool = False,
) -> bytes:
    filters, channels, rows, cols = weights.shape
    padding = 0 if stride != 1 else rows // 2
    params = weights.reshape(-1) if bias is None else np.concatenate([weights.reshape(-1), bias])
    out = string(version) + tensor(params.reshape(-1, 1, 1, 1))
    out += integer(filters) + integer(rows) + integer(cols) + integer(stride) * 2
    out += integer(padding) * 2 + alias(filters, channels, rows, cols) + alias(1, filters, 1, 1)
    out += real(1) + real(1) + real(1) + real(0)
    if version in ("con_5", "con_6"):
        out += boolean(bias is not None)
    if version == "con_6":
        out += boolean(relu)
    return out


def affine(gamma: np.ndarray, beta: np.ndarray, *, disabled: bool = False) -> bytes:
    k = gamma.size
    params = np.concatenate([gamma, beta]).reshape(-1, 1, 1, 1)
    out = string("affine_2") + tensor(params) + alias(1, k, 1, 1) + alias(1, k, 1, 1)
    return out + integer(0) + boolean(disabled)


def relu() -> bytes:
    return string("relu_")


def pool(kind: str, size: int, stride: int) -> bytes:
    return string(f"{kind}_pool_2") + integer(size) * 2 + integer(stride) * 2 + integer(0) * 2


def add_prev() -> bytes:
    return string("add_prev_")


def fc(weights: np.ndarray, bias: np.ndarray | None) -> bytes:
    inputs, outputs = weights.shape
    params = weights.reshape(-1) if bias is None else np.concatenate([weights.reshape(-1), bias])
    out = string("fc_3") + integer(outputs) + integer(inputs) + tensor(params.reshape(-1, 1, 1, 1))
    out += (
        alias(inputs, outputs, 1, 1)
        + alias(1, outputs, 1, 1)
        + integer(0 if bias is not None else 1)
    )
    return out + real(1) + real(1) + real(1) + real(0) + boolean(bias is not None)


def loss_metric() -> bytes:
    return string("loss_metric_2") + real(0.04) + real(0.6)


# --- a network ------------------------------------------------------------------------------


def network(input_layer: bytes, layers: Sequence[tuple[str, bytes]], loss: bytes) -> bytes:
    """A whole file: ``layers`` from input to output as (kind, details); kind is tag, skip or
    layer; tags and skips have no details."""
    out = integer(1) + loss
    for position, (kind, _) in reversed(list(enumerate(layers))):
        out += integer(1) if kind in ("tag", "skip") else integer(3 if position == 0 else 2)
    out += input_layer
    for position, (kind, details) in enumerate(layers):
        if kind in ("tag", "skip"):
            continue
        out += details + boolean(True) + boolean(False) + boolean(False) + EMPTY + EMPTY
        out += EMPTY + integer(1) if position == 0 else EMPTY
    return out
