"""A small dlib network written byte by byte, converted, and run against a numpy forward pass.

The network has everything dlib's face models use: input normalisation, con layers of three
versions (with and without bias, with a fused relu), affine layers (one folded into its con,
one disabled), max and average pools, tag/skip/add_prev residuals whose inputs differ in
channels and in rows and columns (dlib zero-pads the smaller one), a global average pool, an
fc layer and the metric loss.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from facewatch.vision.convert.dlib_dnn import InputRGB, MetricLoss, Spec, read_network
from facewatch.vision.convert.dlib_format import DlibFormatError
from facewatch.vision.convert.onnx_graph import INPUT_NAME, build_model

from . import dlib_writer as write

Array = npt.NDArray[np.float64]
SIZE = 18
MEAN = (120.5, 110.25, 100.0)


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)

    def draw(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, shape).astype(np.float32)

    return {
        "c1_w": draw(4, 3, 3, 3), "c1_b": draw(4), "a1_g": draw(4), "a1_b": draw(4),
        "c2_w": draw(6, 4, 3, 3), "a2_g": draw(6), "a2_b": draw(6),
        "c3_w": draw(5, 6, 3, 3), "c3_b": draw(5),
        "fc_w": draw(5, 3), "fc_b": draw(3),
    }  # fmt: skip


def topology(*, first_filters: int = 4) -> list[Spec]:
    return [
        Spec("input", size=SIZE),
        Spec("con", filters=first_filters, size=3, stride=1),
        Spec("affine"),
        Spec("relu"),
        Spec("max_pool", size=3, stride=2),
        Spec("tag", tag=1),
        Spec("con", filters=6, size=3, stride=2),
        Spec("affine"),
        Spec("tag", tag=2),
        Spec("skip", tag=1),
        Spec("avg_pool", size=2, stride=2),
        Spec("add_prev", tag=2),
        Spec("relu"),
        Spec("con", filters=5, size=3, stride=1),
        Spec("avg_pool", size=0),
        Spec("fc", filters=3, bias=True),
        Spec("loss_metric"),
    ]


def model_file(w: dict[str, np.ndarray]) -> bytes:
    layers = [
        ("layer", write.con(w["c1_w"], w["c1_b"], 1, version="con_4")),
        ("layer", write.affine(w["a1_g"], w["a1_b"])),
        ("layer", write.relu()),
        ("layer", write.pool("max", 3, 2)),
        ("tag", b""),
        ("layer", write.con(w["c2_w"], None, 2, version="con_5")),
        ("layer", write.affine(w["a2_g"], w["a2_b"], disabled=True)),
        ("tag", b""),
        ("skip", b""),
        ("layer", write.pool("avg", 2, 2)),
        ("layer", write.add_prev()),
        ("layer", write.relu()),
        ("layer", write.con(w["c3_w"], w["c3_b"], 1, relu=True)),
        ("layer", write.string("avg_pool_2") + write.integer(0) * 2 + write.integer(1) * 2
         + write.integer(0) * 2),
        ("layer", write.fc(w["fc_w"], w["fc_b"])),
    ]  # fmt: skip
    return write.network(write.input_rgb(MEAN, SIZE), layers, write.loss_metric())


# --- the reference forward pass, in float64 -----------------------------------------------------


def conv(x: Array, w: np.ndarray, b: np.ndarray | None, stride: int) -> Array:
    k = w.shape[2]
    pad = k // 2 if stride == 1 else 0
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    rows, cols = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    out = np.zeros((w.shape[0], rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = x[:, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, i, j] = np.tensordot(w, window, axes=3)
    return out if b is None else out + b[:, None, None]


def pool(x: Array, size: int, stride: int, reduce: str) -> Array:
    rows, cols = (x.shape[1] - size) // stride + 1, (x.shape[2] - size) // stride + 1
    out = np.zeros((x.shape[0], rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = x[:, i * stride : i * stride + size, j * stride : j * stride + size]
            out[:, i, j] = getattr(window, reduce)(axis=(1, 2))
    return out


def add_zero_padded(a: Array, b: Array) -> Array:
    shape = np.maximum(a.shape, b.shape)
    out = np.zeros(shape)
    out[: a.shape[0], : a.shape[1], : a.shape[2]] += a
    out[: b.shape[0], : b.shape[1], : b.shape[2]] += b
    return out


def reference(image: np.ndarray, w: dict[str, np.ndarray]) -> Array:
    x = (image.astype(np.float64) - MEAN).transpose(2, 0, 1) / 256
    x = conv(x, w["c1_w"], w["c1_b"], 1) * w["a1_g"][:, None, None] + w["a1_b"][:, None, None]
    x = pool(np.maximum(x, 0), 3, 2, "max")
    branch = conv(x, w["c2_w"], None, 2)  # its affine is disabled
    x = np.maximum(add_zero_padded(pool(x, 2, 2, "mean"), branch), 0)
    x = np.maximum(conv(x, w["c3_w"], w["c3_b"], 1), 0)
    return x.mean(axis=(1, 2)) @ w["fc_w"] + w["fc_b"]


# --- tests ------------------------------------------------------------------------------------


def test_the_converted_graph_computes_what_dlibs_layers_compute(
    weights: dict[str, np.ndarray],
) -> None:
    network = read_network(model_file(weights), topology())
    session = ort.InferenceSession(build_model(network).SerializeToString())
    images = np.random.default_rng(3).integers(0, 256, (4, SIZE, SIZE, 3), dtype=np.uint8)

    (descriptors,) = session.run(None, {INPUT_NAME: images})

    expected = np.stack([reference(image, weights) for image in images])
    np.testing.assert_allclose(descriptors, expected, atol=1e-5)


def test_the_input_mean_and_size_come_from_the_file(weights: dict[str, np.ndarray]) -> None:
    network = read_network(model_file(weights), topology())

    assert isinstance(network.input, InputRGB)
    assert (network.input.mean, network.input.rows, network.loss) == (MEAN, SIZE, MetricLoss())


def test_a_file_of_another_topology_is_refused_with_what_differs(
    weights: dict[str, np.ndarray],
) -> None:
    with pytest.raises(DlibFormatError, match="con filters is 4, the topology says 8"):
        read_network(model_file(weights), topology(first_filters=8))


@pytest.mark.parametrize("cut", [1, 100, 1000, -40, -1])
def test_a_truncated_file_is_refused(weights: dict[str, np.ndarray], cut: int) -> None:
    data = model_file(weights)

    with pytest.raises(DlibFormatError, match=r"end of file|not an integer|not a serialised"):
        read_network(data[:cut], topology())


def test_bytes_after_the_network_are_refused(weights: dict[str, np.ndarray]) -> None:
    with pytest.raises(DlibFormatError, match="unexpected bytes"):
        read_network(model_file(weights) + b"\x00", topology())


def test_the_input_normalisation_folded_into_an_unpadded_first_conv_changes_nothing(
    weights: dict[str, np.ndarray],
) -> None:
    specs = [
        Spec("input", size=SIZE),
        Spec("con", filters=4, size=3, stride=2),
        Spec("relu"),
        Spec("avg_pool", size=0),
        Spec("fc", filters=3, bias=True),
        Spec("loss_metric"),
    ]
    fc_weights = weights["fc_w"][:4]
    layers = [
        ("layer", write.con(weights["c1_w"], weights["c1_b"], 2)),
        ("layer", write.relu()),
        ("layer", write.string("avg_pool_2") + write.integer(0) * 2 + write.integer(1) * 2
         + write.integer(0) * 2),
        ("layer", write.fc(fc_weights, weights["fc_b"])),
    ]  # fmt: skip
    data = write.network(write.input_rgb(MEAN, SIZE), layers, write.loss_metric())
    model = build_model(read_network(data, specs))
    images = np.random.default_rng(5).integers(0, 256, (3, SIZE, SIZE, 3), dtype=np.uint8)

    (descriptors,) = ort.InferenceSession(model.SerializeToString()).run(None, {INPUT_NAME: images})

    assert "Sub" not in {node.op_type for node in model.graph.node}
    for image, descriptor in zip(images, descriptors, strict=True):
        x = (image.astype(np.float64) - MEAN).transpose(2, 0, 1) / 256
        x = np.maximum(conv(x, weights["c1_w"], weights["c1_b"], 2), 0)
        np.testing.assert_allclose(
            descriptor, x.mean(axis=(1, 2)) @ fc_weights + weights["fc_b"], atol=1e-5
        )
