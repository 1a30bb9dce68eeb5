"""dlib DNN model files (dlib/dnn/core.h, layers.h, input.h, loss.h) read into layer records.

A dlib network is a chain of templates, serialised from the loss layer inwards: every
wrapper writes its integer version and then its sub-network, so a file holds all the
wrappers' versions first (outermost first), then the input layer, then each layer's own
parameters from the input to the output, each followed by its (empty) training state.

The topology is not in the file: it is the C++ type the network was trained as. The reader
walks a topology given as a list of ``Spec`` (input first, loss last) and checks each layer
it reads against it (kind, filter count, kernel, stride), so a file of another network, a
corrupt file or a truncated one raises ``DlibFormatError`` instead of giving wrong weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from facewatch.vision.convert.dlib_format import DlibFormatError, DlibReader, FloatArray

SpecKind = Literal[
    "input", "input_pyramid", "con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "tag",
    "skip", "fc", "loss_metric", "loss_mmod",
]  # fmt: skip
_INPUTS = ("input", "input_pyramid")
_LOSSES = ("loss_metric", "loss_mmod")


@dataclass(frozen=True, slots=True)
class Spec:
    """One layer of a topology, as written in the C++ network type.

    ``size`` is the kernel side (0 for a pool over the whole image), ``filters`` the outputs
    of a con or fc layer, ``tag`` the tag id of tag, skip and add_prev layers, ``size`` of an
    input layer its image side.
    """

    kind: SpecKind
    filters: int = 0
    size: int = 0
    stride: int = 1
    tag: int = 0
    bias: bool = True


# --- layer records ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class InputRGB:
    """(pixel - mean) / 256 per channel, channels first, RGB order."""

    mean: tuple[float, float, float]
    rows: int
    cols: int


@dataclass(frozen=True, slots=True, eq=False)
class InputPyramid:
    """(pixel - mean) / 256 of an image pyramid tiled into one image (any size)."""

    mean: tuple[float, float, float]
    padding: int
    outer_padding: int


@dataclass(frozen=True, slots=True)
class MetricLoss:
    """loss_metric: the network's output is the descriptor."""


@dataclass(frozen=True, slots=True)
class MmodLoss:
    """loss_mmod: one score map per detector window; a score above 0 is a detection.

    Boxes overlapping a better one (IoU above ``nms_iou`` or covering more than
    ``nms_covered`` of either box) are suppressed.
    """

    windows: tuple[tuple[int, int], ...]
    nms_iou: float
    nms_covered: float


@dataclass(frozen=True, slots=True, eq=False)
class Conv:
    """A convolution; ``weights`` are filters x channels x rows x cols (no flip)."""

    weights: FloatArray
    bias: FloatArray | None
    stride: tuple[int, int]
    padding: tuple[int, int]
    relu: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Affine:
    """x * gamma + beta (a frozen batch norm); gamma and beta are shaped to broadcast on NCHW."""

    gamma: FloatArray
    beta: FloatArray
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Relu:
    pass


@dataclass(frozen=True, slots=True)
class Pool:
    """Max or average pooling; ``size`` (0, 0) pools the whole image into one value."""

    kind: Literal["max", "avg"]
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Tag:
    """Remembers the current tensor under ``id``."""

    id: int


@dataclass(frozen=True, slots=True)
class Skip:
    """Continues from the tensor tagged ``id``."""

    id: int


@dataclass(frozen=True, slots=True)
class AddPrev:
    """Current tensor + the tensor tagged ``id``; the smaller is zero-padded at the end."""

    id: int


@dataclass(frozen=True, slots=True, eq=False)
class Fc:
    """A fully connected layer; ``weights`` are inputs x outputs."""

    weights: FloatArray
    bias: FloatArray | None


Layer = Conv | Affine | Relu | Pool | Tag | Skip | AddPrev | Fc


@dataclass(frozen=True, slots=True, eq=False)
class Network:
    """A network read from a dlib file: its input, its layers from input to output, its loss."""

    input: InputRGB | InputPyramid
    layers: tuple[Layer, ...]
    loss: MetricLoss | MmodLoss


# --- the reader -------------------------------------------------------------------------------

_WRAPPED = {"tag": "add_tag_layer", "skip": "add_skip_layer"}
_ADD_LAYER_VERSIONS = (1, 2)
"""add_layer; version 2 adds the parameter gradient to the training state."""
_INPUT_ADD_LAYER_VERSIONS = (2, 3)
"""add_layer on an input layer; version 3 adds the sample expansion factor."""


def read_network(data: bytes | memoryview, specs: Sequence[Spec]) -> Network:
    """The network in ``data``, checked against ``specs`` (input first, loss last)."""
    if len(specs) < 3 or specs[0].kind not in _INPUTS or specs[-1].kind not in _LOSSES:
        raise ValueError("a topology runs from an input spec to a loss spec")
    inner = specs[1:-1]
    if inner[0].kind in _WRAPPED:
        raise ValueError("the first layer after the input must be a computational layer")
    reader = DlibReader(data)
    reader.expect_version("add_loss_layer", 1)
    loss = _read_loss(reader, specs[-1])
    versions = [_read_opening(reader, spec, spec is inner[0]) for spec in reversed(inner)]
    network_input = _read_input(reader, specs[0])
    layers: list[Layer] = []
    for spec, version in zip(inner, reversed(versions), strict=True):
        layers += _read_layer(reader, spec, version, first=spec is inner[0])
    if reader.remaining:
        raise DlibFormatError(f"{reader.remaining} unexpected bytes after the network")
    return Network(network_input, tuple(layers), loss)


def _read_opening(reader: DlibReader, spec: Spec, first: bool) -> int:
    if spec.kind in _WRAPPED:
        return reader.expect_version(_WRAPPED[spec.kind], 1)
    accepted = _INPUT_ADD_LAYER_VERSIONS if first else _ADD_LAYER_VERSIONS
    return reader.expect_version(f"add_layer of {spec.kind}", *accepted)


def _read_layer(reader: DlibReader, spec: Spec, version: int, *, first: bool) -> list[Layer]:
    """A layer's own parameters and training state; tags and skips have neither."""
    if spec.kind == "tag":
        return [Tag(spec.tag)]
    if spec.kind == "skip":
        return [Skip(spec.tag)]
    start = reader.offset
    try:
        layer = _LAYER_READERS[spec.kind](reader, spec)
    except DlibFormatError as exc:
        raise DlibFormatError(f"{spec.kind} layer at byte {start}: {exc}") from None
    _skip_training_state(reader, version, first=first)
    return [layer]


def _skip_training_state(reader: DlibReader, version: int, *, first: bool) -> None:
    """The flags and gradient buffers add_layer saves after a layer (unused for inference)."""
    for _ in range(3):
        reader.read_bool()
    reader.read_tensor()  # gradient input
    reader.read_tensor()  # cached output
    if first:
        reader.read_tensor()  # final data gradient
        if version >= 3:
            reader.read_int()  # sample expansion factor
    elif version >= 2:
        reader.read_tensor()  # parameter gradient


def _version(reader: DlibReader, what: str, *accepted: str) -> str:
    start = reader.offset
    version = reader.read_string()
    if version not in accepted:
        raise DlibFormatError(
            f"byte {start}: found {version!r} where a {what} ({' or '.join(accepted)}) belongs; "
            "is this the right model file?"
        )
    return version


def _check(what: str, found: object, expected: object) -> None:
    if found != expected:
        raise DlibFormatError(f"{what} is {found}, the topology says {expected}")


# --- one reader per layer kind ----------------------------------------------------------------


def _read_input(reader: DlibReader, spec: Spec) -> InputRGB | InputPyramid:
    if spec.kind == "input_pyramid":
        return _read_input_pyramid(reader)
    _version(reader, "input layer", "input_rgb_image_sized")
    mean = (reader.read_float(), reader.read_float(), reader.read_float())
    rows, cols = reader.read_int(), reader.read_int()
    _check("input size", (rows, cols), (spec.size, spec.size))
    return InputRGB(mean, rows, cols)


def _read_input_pyramid(reader: DlibReader) -> InputPyramid:
    version = _version(
        reader, "pyramid input layer", "input_rgb_image_pyramid", "input_rgb_image_pyramid2"
    )
    mean = (reader.read_float(), reader.read_float(), reader.read_float())
    if version == "input_rgb_image_pyramid2":
        return InputPyramid(mean, reader.read_int(), reader.read_int())
    return InputPyramid(mean, 10, 11)  # dlib's values before they were saved


def _read_loss(reader: DlibReader, spec: Spec) -> MetricLoss | MmodLoss:
    if spec.kind == "loss_mmod":
        return _read_mmod_loss(reader)
    version = _version(reader, "metric loss", "loss_metric_", "loss_metric_2")
    if version == "loss_metric_2":
        reader.read_float()  # margin
        reader.read_float()  # distance threshold
    return MetricLoss()


def _read_mmod_loss(reader: DlibReader) -> MmodLoss:
    """loss_mmod_ and its mmod_options (versions 1 to 4)."""
    _version(reader, "mmod loss", "loss_mmod_")
    version = reader.expect_version("mmod_options", 1, 2, 3, 4)
    if version == 1:
        windows = [(reader.read_int(), reader.read_int())]
    else:
        windows = [_read_window(reader) for _ in range(reader.read_int())]
    for _ in range(3):
        reader.read_float()  # false alarm and missed target losses, truth match IoU
    nms_iou, nms_covered = reader.read_float(), reader.read_float()
    reader.read_float(), reader.read_float()  # the overlap test for ignored boxes
    if version >= 3:
        reader.take(1)  # assume_image_pyramid (a byte)
    if version >= 4 and reader.read_bool():
        raise DlibFormatError("bounding box regression is not supported")
    if version >= 4:
        reader.read_float()  # bbr_lambda
    return MmodLoss(tuple(windows), nms_iou, nms_covered)


def _read_window(reader: DlibReader) -> tuple[int, int]:
    version = reader.expect_version("detector window", 1, 2)
    window = (reader.read_int(), reader.read_int())
    if version == 2:
        reader.read_string()  # label
    return window


def _read_con(reader: DlibReader, spec: Spec) -> Conv:
    version = _version(reader, "con layer", "con_4", "con_5", "con_6")
    params = reader.read_tensor().reshape(-1)
    filters, rows, cols = reader.read_int(), reader.read_int(), reader.read_int()
    stride = (reader.read_int(), reader.read_int())
    padding = (reader.read_int(), reader.read_int())
    weights_shape, bias_shape = reader.read_alias_tensor(), reader.read_alias_tensor()
    for _ in range(4):
        reader.read_float()  # learning-rate and weight-decay multipliers
    use_bias = reader.read_bool() if version in ("con_5", "con_6") else True
    relu = reader.read_bool() if version == "con_6" else False
    _check("con filters", filters, spec.filters)
    _check("con kernel", (rows, cols), (spec.size, spec.size))
    _check("con stride", stride, (spec.stride, spec.stride))
    _check("con filter shape", weights_shape[0::2], (filters, rows))
    weights, bias = _split(params, weights_shape, bias_shape if use_bias else None)
    return Conv(weights, None if bias is None else bias.reshape(-1), stride, padding, relu)


def _read_affine(reader: DlibReader, spec: Spec) -> Affine:
    version = _version(reader, "affine layer", "affine_", "affine_2", "bn_con2")
    if version == "bn_con2":
        return _read_batch_norm(reader)
    params = reader.read_tensor().reshape(-1)
    gamma_shape, beta_shape = reader.read_alias_tensor(), reader.read_alias_tensor()
    reader.read_int()  # mode: per channel or per element, told by gamma's shape too
    disabled = reader.read_bool() if version == "affine_2" else False
    gamma, beta = _split(params, gamma_shape, beta_shape)
    assert beta is not None
    return Affine(gamma, beta, disabled)


def _read_batch_norm(reader: DlibReader) -> Affine:
    """A bn_con2 layer saved from training, frozen as dlib's affine_ does when loading it:
    gamma / sqrt(running variance + eps), beta - mean * that."""
    params = reader.read_tensor().reshape(-1)
    gamma_shape, beta_shape = reader.read_alias_tensor(), reader.read_alias_tensor()
    reader.read_tensor(), reader.read_tensor()  # batch means and inverse deviations
    running_means, running_variances = reader.read_tensor(), reader.read_tensor()
    reader.read_int(), reader.read_int()  # updates so far, running statistics window
    for _ in range(4):
        reader.read_float()  # learning-rate and weight-decay multipliers
    eps = reader.read_float()
    gamma, beta = _split(params, gamma_shape, beta_shape)
    assert beta is not None
    scale = gamma / np.sqrt(running_variances.reshape(gamma.shape) + np.float32(eps))
    shift = beta - running_means.reshape(beta.shape) * scale
    return Affine(scale.astype(np.float32), shift.astype(np.float32))


def _read_relu(reader: DlibReader, spec: Spec) -> Relu:
    _version(reader, "relu layer", "relu_")
    return Relu()


def _read_pool(reader: DlibReader, spec: Spec) -> Pool:
    kind: Literal["max", "avg"] = "max" if spec.kind == "max_pool" else "avg"
    version = _version(reader, f"{kind} pool layer", f"{kind}_pool_", f"{kind}_pool_2")
    size = (reader.read_int(), reader.read_int())
    stride = (reader.read_int(), reader.read_int())
    padding = (reader.read_int(), reader.read_int()) if version.endswith("_2") else (0, 0)
    _check(f"{kind} pool size", size, (spec.size, spec.size))
    if spec.size:
        _check(f"{kind} pool stride", stride, (spec.stride, spec.stride))
    return Pool(kind, size, stride, padding)


def _read_add_prev(reader: DlibReader, spec: Spec) -> AddPrev:
    _version(reader, "add_prev layer", "add_prev_")
    return AddPrev(spec.tag)


def _read_fc(reader: DlibReader, spec: Spec) -> Fc:
    version = _version(reader, "fc layer", "fc_2", "fc_3")
    outputs, inputs = reader.read_int(), reader.read_int()
    params = reader.read_tensor().reshape(-1)
    weights_shape, bias_shape = reader.read_alias_tensor(), reader.read_alias_tensor()
    bias_mode = reader.read_int()  # 0: with bias, 1: without
    for _ in range(4):
        reader.read_float()  # learning-rate and weight-decay multipliers
    use_bias = reader.read_bool() if version == "fc_3" else True
    has_bias = bias_mode == 0 and use_bias
    _check("fc outputs", outputs, spec.filters)
    _check("fc bias", has_bias, spec.bias)
    weights, bias = _split(params, weights_shape, bias_shape if has_bias else None)
    return Fc(weights.reshape(inputs, outputs), None if bias is None else bias.reshape(-1))


_LAYER_READERS: dict[str, Callable[[DlibReader, Spec], Layer]] = {
    "con": _read_con,
    "affine": _read_affine,
    "relu": _read_relu,
    "max_pool": _read_pool,
    "avg_pool": _read_pool,
    "add_prev": _read_add_prev,
    "fc": _read_fc,
}


def _split(
    params: FloatArray, first: tuple[int, ...], second: tuple[int, ...] | None
) -> tuple[FloatArray, FloatArray | None]:
    """Cut a layer's flat parameter tensor into its alias tensors (``first`` then ``second``)."""
    sizes = [int(np.prod(first)), int(np.prod(second)) if second is not None else 0]
    if params.size != sum(sizes):
        raise DlibFormatError(
            f"{params.size} parameters where the layer's shapes {first} and {second} need "
            f"{sum(sizes)}"
        )
    head = params[: sizes[0]].reshape(first)
    if second is None:
        return head, None
    return head, params[sizes[0] :].reshape(second)
