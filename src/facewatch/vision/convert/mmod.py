"""What a converted MMOD detector needs beside its graph, and how its score maps decode.

dlib's loss_mmod turns each score map location above the threshold into a detector-sized
box centred on the input point that location looks at (through every convolution's stride,
padding and kernel), then keeps boxes best first, dropping any that overlaps a kept one.
These values travel inside the ONNX model as metadata, so the detector needs nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from facewatch.vision.convert.dlib_dnn import Affine, Conv, Layer, MmodLoss, Network, Pool, Relu

DetectionRow = tuple[float, float, float, float, float]
"""(score, left, top, right, bottom) in input pixels."""


@dataclass(frozen=True, slots=True)
class MmodDecoding:
    """Windows, non-max suppression and the score map -> input point mapping of a detector.

    Score map location ``(col, row)`` looks at input point ``(col, row) * stride + offset``.
    """

    windows: tuple[tuple[int, int], ...]
    nms_iou: float
    nms_covered: float
    stride: int
    offset: int

    @classmethod
    def from_metadata(cls, props: dict[str, str]) -> MmodDecoding:
        """Read back what ``mmod_metadata`` wrote; ``KeyError``/``ValueError`` if absent."""
        windows = tuple(
            (int(w), int(h))
            for w, h in (window.split("x") for window in props["mmod_windows"].split(","))
        )
        return cls(
            windows,
            float(props["mmod_nms_iou"]),
            float(props["mmod_nms_covered"]),
            int(props["mmod_stride"]),
            int(props["mmod_offset"]),
        )


def mmod_metadata(network: Network) -> dict[str, str]:
    """The metadata a converted MMOD network carries (see ``MmodDecoding``)."""
    if not isinstance(network.loss, MmodLoss):
        raise ValueError("not an MMOD network")
    stride, offset = output_geometry(network.layers)
    return {
        "mmod_windows": ",".join(f"{w}x{h}" for w, h in network.loss.windows),
        "mmod_nms_iou": repr(network.loss.nms_iou),
        "mmod_nms_covered": repr(network.loss.nms_covered),
        "mmod_stride": str(stride),
        "mmod_offset": str(offset),
    }


def output_geometry(layers: Sequence[Layer]) -> tuple[int, int]:
    """(stride, offset) with input = output * stride + offset, as dlib's map_output_to_input
    composes it (x * stride - padding + kernel // 2 per layer, square kernels only)."""
    stride, offset = 1, 0
    for layer in reversed(layers):
        if isinstance(layer, Conv):
            step, pad, kernel = layer.stride[0], layer.padding[0], layer.weights.shape[2]
        elif isinstance(layer, Pool) and layer.size != (0, 0):
            step, pad, kernel = layer.stride[0], layer.padding[0], layer.size[0]
        elif isinstance(layer, Relu | Affine):
            continue
        else:
            raise ValueError(f"cannot map detector outputs through {type(layer).__name__}")
        # p_in = p * step - pad + kernel // 2, applied below the mapping found so far
        stride, offset = stride * step, offset * step - pad + kernel // 2
    return stride, offset


def decode(
    scores: npt.NDArray[np.float32], decoding: MmodDecoding, threshold: float = 0.0
) -> list[DetectionRow]:
    """Boxes of every location scoring above ``threshold`` in (K, rows, cols) score maps."""
    found: list[DetectionRow] = []
    for channel, rows, cols in zip(*np.nonzero(scores > threshold), strict=True):
        width, height = decoding.windows[channel]
        x = float(cols * decoding.stride + decoding.offset)
        y = float(rows * decoding.stride + decoding.offset)
        found.append(
            (
                float(scores[channel, rows, cols]),
                x - width / 2,
                y - height / 2,
                x + width / 2,
                y + height / 2,
            )
        )
    return found


def suppress(rows: Sequence[DetectionRow], iou: float, covered: float) -> list[DetectionRow]:
    """Best first, dropping every box that overlaps a kept one (dlib's test_box_overlap:
    intersection over the bounding box of both above ``iou``, or covering more than
    ``covered`` of either)."""
    kept: list[DetectionRow] = []
    for row in sorted(rows, key=lambda r: r[0], reverse=True):
        if not any(_overlaps(row, other, iou, covered) for other in kept):
            kept.append(row)
    return kept


def _overlaps(a: DetectionRow, b: DetectionRow, iou: float, covered: float) -> bool:
    inner = _area(max(a[1], b[1]), max(a[2], b[2]), min(a[3], b[3]), min(a[4], b[4]))
    if inner == 0:
        return False
    outer = _area(min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]), max(a[4], b[4]))
    return inner / outer > iou or inner / _area(*a[1:]) > covered or inner / _area(*b[1:]) > covered


def _area(left: float, top: float, right: float, bottom: float) -> float:
    return max(right - left, 0.0) * max(bottom - top, 0.0)
