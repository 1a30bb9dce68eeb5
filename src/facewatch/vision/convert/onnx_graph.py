"""Layer records of a dlib network -> an ONNX graph that computes the same function.

The graph takes what the embedder has: a batch of RGB uint8 images, N x rows x cols x 3,
and does dlib's input normalisation itself ((pixel - mean) / 256, channels first). Each
affine layer right after a convolution (a frozen batch norm) is folded into its weights.
dlib's residual add takes the larger size per dimension and zero-pads the smaller input at
the end (channels, bottom rows, right columns); the graph pads explicitly, as shapes are
known when building.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facewatch.vision.convert.dlib_dnn import (
    AddPrev,
    Affine,
    Conv,
    Fc,
    InputRGB,
    Layer,
    MetricLoss,
    Network,
    Pool,
    Relu,
    Skip,
    Tag,
)
from facewatch.vision.convert.dlib_format import FloatArray

INPUT_NAME = "images"
OUTPUT_NAME = "descriptors"
OPSET = 17
_INPUT_SCALE = 1.0 / 256.0

Shape = tuple[int, int | None, int | None]
"""Channels, rows, cols of one sample; ``None`` for sizes that vary with the input."""


@dataclass
class _Builder:
    """Accumulates nodes and weights while tracking each tensor's (C, H, W) shape."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    weights: list[onnx.TensorProto] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=dict)
    _count: int = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.weights.append(numpy_helper.from_array(value, name))
        return name

    def node(
        self, op: str, inputs: Sequence[str], shape: Shape, **attrs: str | int | Sequence[int]
    ) -> str:
        output = self.name(op.lower())
        node = helper.make_node(op, list(inputs), [output])
        node.attribute.extend(helper.make_attribute(key, value) for key, value in attrs.items())
        self.nodes.append(node)
        self.shapes[output] = shape
        return output


def build_model(
    network: Network, *, doc: str = "", metadata: dict[str, str] | None = None
) -> onnx.ModelProto:
    """An ONNX model: uint8 ``images`` (N, rows, cols, 3) -> float32 ``descriptors`` (N, D),
    or (N, K, rows', cols') score maps for a detector; ``metadata`` goes into the model."""
    builder = _Builder()
    layers = list(_fold_affines(network.layers))
    mean = np.asarray(network.input.mean, dtype=np.float64)
    if _input_foldable(layers[0]):
        # Exact for an unpadded first conv, and saves a pass over every input pixel.
        assert isinstance(layers[0], Conv)
        layers[0] = _with_input_normalisation(layers[0], mean)
        current = _channels_first(builder, network)
    else:
        current = _normalised_channels_first(builder, network, mean)
    tags: dict[int, str] = {}
    for layer in layers:
        current = _add_layer(builder, layer, current, tags)
    builder.nodes[-1].output[0] = OUTPUT_NAME
    output_dims = _output_dims(network, builder.shapes[current])
    graph = helper.make_graph(
        builder.nodes,
        "dlib_network",
        [_input_info(network)],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, output_dims)],
        builder.weights,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facewatch.vision.convert",
        doc_string=doc,
    )
    model.ir_version = 8  # readable by every onnxruntime since 1.10
    helper.set_model_props(model, metadata or {})
    onnx.checker.check_model(model)
    return model


def _input_info(network: Network) -> onnx.ValueInfoProto:
    size: list[str | int] = ["N", "height", "width", 3]
    if isinstance(network.input, InputRGB):
        size = ["N", network.input.rows, network.input.cols, 3]
    return helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, size)


def _output_dims(network: Network, shape: Shape) -> list[str | int]:
    """(N, D) descriptors for a metric network, else (N, K, rows, cols) score maps."""
    if isinstance(network.loss, MetricLoss):
        return ["N", shape[0]]
    return ["N", shape[0], shape[1] or "rows", shape[2] or "cols"]


def _input_shape(network: Network) -> Shape:
    if isinstance(network.input, InputRGB):
        return (3, network.input.rows, network.input.cols)
    return (3, None, None)


def _channels_first(builder: _Builder, network: Network) -> str:
    """The raw pixels as float32, N x 3 x rows x cols."""
    shape = _input_shape(network)
    floats = builder.node("Cast", [INPUT_NAME], shape, to=TensorProto.FLOAT)
    return builder.node("Transpose", [floats], shape, perm=[0, 3, 1, 2])


def _normalised_channels_first(builder: _Builder, network: Network, mean: np.ndarray) -> str:
    """dlib's input normalisation, (pixel - mean) / 256, then channels first."""
    shape = _input_shape(network)
    floats = builder.node("Cast", [INPUT_NAME], shape, to=TensorProto.FLOAT)
    centred = builder.node(
        "Sub", [floats, builder.constant("mean", mean.astype(np.float32))], shape
    )
    scale = builder.constant("scale", np.asarray(_INPUT_SCALE, dtype=np.float32))
    scaled = builder.node("Mul", [centred, scale], shape)
    return builder.node("Transpose", [scaled], shape, perm=[0, 3, 1, 2])


def _input_foldable(first: Layer) -> bool:
    """Whether the normalisation can go into the first layer: a conv without zero padding
    (padding would pad the raw pixels with 0 where dlib pads the normalised ones)."""
    return isinstance(first, Conv) and first.padding == (0, 0) and first.weights.shape[1] == 3


def _with_input_normalisation(conv: Conv, mean: np.ndarray) -> Conv:
    """conv((x - mean) / 256) as a conv of the raw pixels x: weights / 256, and the mean's
    contribution taken off the bias."""
    weights = conv.weights.astype(np.float64) * _INPUT_SCALE
    bias = conv.bias.astype(np.float64) if conv.bias is not None else np.zeros(len(weights))
    bias = bias - np.einsum("fcij,c->f", weights, mean)
    return Conv(weights.astype(np.float32), bias.astype(np.float32), conv.stride, conv.padding)


def _fold_affines(layers: Sequence[Layer]) -> Iterator[Layer]:
    """The layers with every enabled per-channel affine after a conv folded into that conv."""
    index = 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        if isinstance(layer, Conv) and _foldable(layer, following):
            assert isinstance(following, Affine)
            yield _folded(layer, following)
            index += 2
            continue
        yield layer
        index += 1


def _foldable(conv: Conv, following: Layer | None) -> bool:
    if not isinstance(following, Affine) or following.disabled or conv.relu:
        return False
    filters = int(conv.weights.shape[0])
    return following.gamma.size == filters == following.beta.size


def _folded(conv: Conv, affine: Affine) -> Conv:
    gamma = affine.gamma.reshape(-1)
    beta = affine.beta.reshape(-1)
    bias = conv.bias if conv.bias is not None else np.zeros_like(gamma)
    weights = (conv.weights * gamma[:, None, None, None]).astype(np.float32)
    return Conv(weights, (bias * gamma + beta).astype(np.float32), conv.stride, conv.padding)


def _add_layer(builder: _Builder, layer: Layer, current: str, tags: dict[int, str]) -> str:
    match layer:
        case Conv():
            return _conv(builder, layer, current)
        case Affine():
            return _affine(builder, layer, current)
        case Relu():
            return builder.node("Relu", [current], builder.shapes[current])
        case Pool():
            return _pool(builder, layer, current)
        case Tag(id=tag):
            tags[tag] = current
            return current
        case Skip(id=tag):
            return tags[tag]
        case AddPrev(id=tag):
            return _add_padded(builder, current, tags[tag])
        case Fc():
            return _fc(builder, layer, current)
    raise TypeError(f"no ONNX translation for {layer!r}")


def _conv(builder: _Builder, conv: Conv, current: str) -> str:
    _, rows, cols = builder.shapes[current]
    filters, _, k_rows, k_cols = conv.weights.shape
    (stride_y, stride_x), (pad_y, pad_x) = conv.stride, conv.padding
    shape = (
        filters,
        _output_size(rows, k_rows, stride_y, pad_y),
        _output_size(cols, k_cols, stride_x, pad_x),
    )
    inputs = [current, builder.constant("conv_w", conv.weights)]
    if conv.bias is not None:
        inputs.append(builder.constant("conv_b", conv.bias))
    output = builder.node(
        "Conv",
        inputs,
        shape,
        kernel_shape=[k_rows, k_cols],
        strides=[stride_y, stride_x],
        pads=[pad_y, pad_x, pad_y, pad_x],
    )
    return builder.node("Relu", [output], shape) if conv.relu else output


def _output_size(size: int | None, kernel: int, stride: int, pad: int) -> int | None:
    """dlib's (and ONNX's) output size of a convolution or pool: floor division."""
    return None if size is None else 1 + (size + 2 * pad - kernel) // stride


def _affine(builder: _Builder, affine: Affine, current: str) -> str:
    if affine.disabled:
        return current
    shape = builder.shapes[current]
    gamma = builder.constant("gamma", _per_sample(affine.gamma))
    beta = builder.constant("beta", _per_sample(affine.beta))
    return builder.node("Add", [builder.node("Mul", [current, gamma], shape), beta], shape)


def _per_sample(values: FloatArray) -> FloatArray:
    """A (1, k, r, c) parameter tensor as (k, r, c), broadcasting over the batch."""
    return np.ascontiguousarray(values.reshape(values.shape[1:]), dtype=np.float32)


def _pool(builder: _Builder, pool: Pool, current: str) -> str:
    channels, rows, cols = builder.shapes[current]
    if pool.size == (0, 0):
        op = "GlobalMaxPool" if pool.kind == "max" else "GlobalAveragePool"
        return builder.node(op, [current], (channels, 1, 1))
    if pool.kind == "avg" and pool.padding != (0, 0):
        raise ValueError("padded average pooling is not supported")
    (size_y, size_x), (stride_y, stride_x), (pad_y, pad_x) = pool.size, pool.stride, pool.padding
    shape = (
        channels,
        _output_size(rows, size_y, stride_y, pad_y),
        _output_size(cols, size_x, stride_x, pad_x),
    )
    return builder.node(
        "MaxPool" if pool.kind == "max" else "AveragePool",
        [current],
        shape,
        kernel_shape=[size_y, size_x],
        strides=[stride_y, stride_x],
        pads=[pad_y, pad_x, pad_y, pad_x],
    )


def _add_padded(builder: _Builder, first: str, second: str) -> str:
    """dlib's add_prev: the larger size per dimension, the smaller input zero-padded at the end."""
    a, b = builder.shapes[first], builder.shapes[second]
    if None in a or None in b:
        if a != b:
            raise ValueError("residual adds need fixed input sizes unless both sides agree")
        return builder.node("Add", [first, second], a)
    target: Shape = (max(a[0], b[0]), max(a[1] or 0, b[1] or 0), max(a[2] or 0, b[2] or 0))
    return builder.node(
        "Add", [_pad_to(builder, first, target), _pad_to(builder, second, target)], target
    )


def _pad_to(builder: _Builder, tensor: str, target: Shape) -> str:
    shape = builder.shapes[tensor]
    if shape == target:
        return tensor
    extra = [(t or 0) - (s or 0) for s, t in zip(shape, target, strict=True)]
    pads = builder.constant("pads", np.asarray([0, 0, 0, 0, 0, *extra], dtype=np.int64))
    return builder.node("Pad", [tensor, pads], target, mode="constant")


def _fc(builder: _Builder, fc: Fc, current: str) -> str:
    inputs, outputs = fc.weights.shape
    channels, rows, cols = builder.shapes[current]
    if rows is None or cols is None or channels * rows * cols != inputs:
        raise ValueError(f"fc layer reads {inputs} values, its input is {channels}x{rows}x{cols}")
    flat = builder.node("Flatten", [current], (inputs, 1, 1), axis=1)
    weights = builder.constant("fc_w", np.ascontiguousarray(fc.weights, dtype=np.float32))
    output = builder.node("MatMul", [flat, weights], (outputs, 1, 1))
    if fc.bias is None:
        return output
    bias = builder.constant("fc_b", fc.bias.astype(np.float32))
    return builder.node("Add", [output, bias], (outputs, 1, 1))
