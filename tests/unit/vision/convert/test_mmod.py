"""Decoding MMOD score maps: where a score's box lies, and dlib's non-max suppression."""

from __future__ import annotations

import numpy as np
import pytest

from facewatch.vision.convert.dlib_dnn import Affine, Conv, Fc, InputRGB, MetricLoss, Network, Relu
from facewatch.vision.convert.mmod import (
    MmodDecoding,
    decode,
    mmod_metadata,
    output_geometry,
    suppress,
)

DECODING = MmodDecoding(windows=((80, 80),), nms_iou=0.4, nms_covered=1.0, stride=8, offset=14)


def conv(size: int, stride: int) -> Conv:
    padding = 0 if stride != 1 else size // 2
    weights = np.zeros((1, 1, size, size), dtype=np.float32)
    return Conv(weights, None, (stride, stride), (padding, padding))


def affine() -> Affine:
    return Affine(np.ones((1, 1, 1, 1), np.float32), np.zeros((1, 1, 1, 1), np.float32))


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([conv(3, 1)], (1, 0)),
        ([conv(5, 2)], (2, 2)),
        ([conv(5, 2), affine(), Relu(), conv(5, 2)], (4, 6)),
        ([conv(5, 2), conv(5, 2), conv(5, 2), conv(5, 1), conv(5, 1), conv(9, 1)], (8, 14)),
    ],
)
def test_outputs_map_back_through_each_convolution(
    layers: list[Conv | Affine | Relu], expected: tuple[int, int]
) -> None:
    assert output_geometry(layers) == expected


def test_a_layer_without_a_spatial_mapping_is_refused() -> None:
    fc = Fc(np.zeros((4, 2), np.float32), None)

    with pytest.raises(ValueError, match="Fc"):
        output_geometry([conv(3, 1), fc])


def test_a_score_above_the_threshold_becomes_a_window_around_its_input_point() -> None:
    scores = np.full((1, 4, 5), -1.0, dtype=np.float32)
    scores[0, 2, 3] = 0.7

    [(score, left, top, right, bottom)] = decode(scores, DECODING)

    assert score == pytest.approx(0.7)
    assert (left, top, right, bottom) == (3 * 8 + 14 - 40, 2 * 8 + 14 - 40, 78.0, 70.0)


def test_the_threshold_moves_the_cut() -> None:
    scores = np.array([[[0.2, 0.6]]], dtype=np.float32)

    assert len(decode(scores, DECODING)) == 2
    assert len(decode(scores, DECODING, threshold=0.5)) == 1


def test_suppression_keeps_the_best_of_overlapping_boxes_and_distant_ones() -> None:
    best = (0.9, 0.0, 0.0, 80.0, 80.0)
    shifted = (0.5, 10.0, 10.0, 90.0, 90.0)  # overlaps the best one
    far = (0.3, 200.0, 0.0, 280.0, 80.0)

    assert suppress([shifted, far, best], iou=0.4, covered=1.0) == [best, far]


def test_overlap_is_measured_over_the_bounding_box_of_both_as_dlib_does() -> None:
    a = (0.9, 0.0, 0.0, 100.0, 100.0)
    b = (0.8, 0.0, 50.0, 100.0, 150.0)  # intersection 5000; union 15000; bounding box 15000
    c = (0.8, 50.0, 50.0, 150.0, 150.0)  # intersection 2500; union 17500; bounding box 22500

    assert suppress([a, b], iou=0.3, covered=1.0) == [a]
    assert suppress([a, c], iou=0.12, covered=1.0) == [a, c]  # 2500/22500 = 0.11 < 0.12


def test_a_box_inside_another_is_suppressed_by_the_covered_rule() -> None:
    outer = (0.9, 0.0, 0.0, 200.0, 200.0)
    inner = (0.5, 50.0, 50.0, 100.0, 100.0)

    assert suppress([outer, inner], iou=0.9, covered=0.8) == [outer]
    assert suppress([outer, inner], iou=0.9, covered=1.0) == [outer, inner]


def test_decoding_values_survive_the_model_metadata() -> None:
    props = {
        "mmod_windows": "80x80,40x60",
        "mmod_nms_iou": "0.3382761351109955",
        "mmod_nms_covered": "1.0",
        "mmod_stride": "8",
        "mmod_offset": "14",
    }

    decoding = MmodDecoding.from_metadata(props)

    assert decoding.windows == ((80, 80), (40, 60))
    assert (decoding.nms_iou, decoding.stride, decoding.offset) == (0.3382761351109955, 8, 14)


def test_metadata_is_only_for_mmod_networks() -> None:
    network = Network(InputRGB((0.0, 0.0, 0.0), 4, 4), (conv(3, 1),), MetricLoss())

    with pytest.raises(ValueError, match="not an MMOD"):
        mmod_metadata(network)
