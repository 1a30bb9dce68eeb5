"""The Ultra-Light-Fast-Generic-Face-Detector on onnxruntime (RFB-320/640 ONNX files).

The model reads a fixed-size RGB image normalised to (x - 127) / 128 in CHW order and returns
``scores`` (1 x N x 2, column 1 is "face") and ``boxes`` (1 x N x 4, corners normalised to 0..1).
Facewatch ships the RFB-640 file (MIT licence, vision/weights/ULTRA_LIGHT_NOTICE), checked
against its sha256 when it loads; a user-supplied file of either size may be given instead.

``detect(image, native_scale=True)`` runs the network on the image at its own size instead
(the convolutions take any size; only the file's box decoding is fixed to one): the graph is
cut before its decoding, and the boxes are decoded here from anchors made for the size. A
960 x 540 frame then costs about what 640 x 480 does and its faces keep their pixels, and a
small region of a frame costs a fraction of a whole frame (the edge agent's motion regions).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import (
    Fail,
    InvalidArgument,
    InvalidGraph,
    InvalidProtobuf,
    NoSuchFile,
)

from facewatch.errors import ModelUnavailable
from facewatch.types import Box, DetectedFace, RGBImage
from facewatch.vision.detectors.base import FaceDetector
from facewatch.vision.models import require_file

logger = logging.getLogger(__name__)

_ORT_LOAD_ERRORS = (Fail, InvalidArgument, InvalidGraph, InvalidProtobuf, NoSuchFile, OSError)
_ORT_WARNINGS_OFF = 3  # onnxruntime severity: 0 verbose .. 3 error
# Ultra-Light boxes run from the hairline to below the chin; dlib's are square, from the
# eyebrows to the chin, and its landmark model was trained on those. Measured on 28 faces
# found by both: dlib's centre is 0.069 box heights lower, its side 0.80 heights and 1.10
# widths. Reshaping cut the embedding drift against dlib boxes from up to 0.15 to 0.10.
_DLIB_CENTRE_SHIFT = 0.069
_DLIB_SIDE_PER_HEIGHT = 0.80
_DLIB_SIDE_PER_WIDTH = 1.10

PACKAGED_MODEL = Path(__file__).resolve().parents[1] / "weights" / "ultra_light_640.onnx"
"""The RFB-640 detector shipped inside the package (vision/weights/ULTRA_LIGHT_NOTICE)."""
PACKAGED_SHA256 = "84483bcd328b3aa15b5c807cec9b825fa87f1864840dec067acc9588754d1712"

# The anchors of the Ultra-Light "RFB" and "slim" models (Linzaer's vision/ssd/config/
# fd_config.py): per feature map stride, the anchor sizes in input pixels.
_ANCHOR_SIZES = ((8, (10, 16, 24)), (16, (32, 48)), (32, (64, 96)), (64, (128, 192, 256)))
_CENTRE_VARIANCE = 0.1
_SIZE_VARIANCE = 0.2
_NATIVE_MULTIPLE = 64
"""Native-size inputs are padded to a multiple of the largest stride, so every feature map
covers the image exactly."""


@dataclass(frozen=True, slots=True)
class _ModelIO:
    input_name: str
    height: int
    width: int


class UltraLightOnnxDetector(FaceDetector):
    """Ultra-Light face detector through onnxruntime on the CPU.

    The image is stretched to the model's input size (as the model was trained), faces
    scoring at least ``score_threshold`` are kept, overlapping boxes (IoU above ``nms_iou``)
    are merged by non-maximum suppression, and each box is reshaped to the square box dlib's
    detectors draw, so landmarks, crops and sizes agree whichever detector runs.
    """

    name = "onnx"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        score_threshold: float = 0.7,
        nms_iou: float = 0.3,
        sha256: str | None = None,
        threads: int = 0,
        keep_aspect: bool = False,
    ) -> None:
        """``model_path`` None: the packaged RFB-640 file, checked against its sha256.

        ``sha256``: the checksum a user-supplied file must have (none: not checked);
        ``threads``: onnxruntime's threads (0: its default, one per core);
        ``keep_aspect``: pad the image with black to the model's aspect ratio instead of
        stretching it (finds more of the faces of square photos that HOG misses, 31 of 33
        on LFW against 26; stretching keeps more pixels of a wide frame for small faces).
        """
        super().__init__()
        if not 0.0 < score_threshold < 1.0:
            raise ValueError(f"score_threshold must be in (0, 1), not {score_threshold}")
        self.model_path = PACKAGED_MODEL if model_path is None else model_path
        self.sha256 = PACKAGED_SHA256 if model_path is None else sha256
        self.threads = threads
        self.keep_aspect = keep_aspect
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self._session: ort.InferenceSession | None = None
        self._io: _ModelIO | None = None
        self._native: ort.InferenceSession | None = None
        self._anchors: dict[tuple[int, int], npt.NDArray[np.float32]] = {}

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's (height, width), e.g. (480, 640); loads the model if needed."""
        self.load()
        assert self._io is not None
        return self._io.height, self._io.width

    def _load(self) -> None:
        path = require_file(self.model_path, "ONNX face detector")
        if self.sha256 is not None:
            _check_sha256(path, self.sha256)
        options = ort.SessionOptions()
        options.log_severity_level = _ORT_WARNINGS_OFF
        options.intra_op_num_threads = self.threads
        try:
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except _ORT_LOAD_ERRORS as exc:
            raise ModelUnavailable(f"{path} is not a loadable ONNX model: {exc}") from exc
        self._io = _inspect(session, path)
        self._session = session
        self._native = None
        logger.info("loaded ONNX face detector %s (input %s)", path, self._io)

    def _detect_native(self, image: RGBImage) -> list[DetectedFace]:
        """The network at the image's own size (padded to a multiple of 64)."""
        session = self._native_session()
        height, width = image.shape[:2]
        tall = max(_round_up(height, _NATIVE_MULTIPLE), _NATIVE_MULTIPLE)
        wide = max(_round_up(width, _NATIVE_MULTIPLE), _NATIVE_MULTIPLE)
        padded = cv2.copyMakeBorder(
            image, 0, tall - height, 0, wide - width, cv2.BORDER_CONSTANT, value=0
        )
        tensor = np.ascontiguousarray(
            ((padded.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[np.newaxis]
        )
        logits, offsets = session.run(None, {session.get_inputs()[0].name: tensor})
        anchors = self._anchors_for(tall, wide)
        scores = _face_probability(np.asarray(logits, dtype=np.float32)[0])
        corners = _decode_boxes(np.asarray(offsets, dtype=np.float32)[0], anchors)
        return self._decode(scores, corners, (tall, wide))

    def _native_session(self) -> ort.InferenceSession:
        if self._native is None:
            graph = _undecoded_graph(require_file(self.model_path, "ONNX face detector"))
            options = ort.SessionOptions()
            options.log_severity_level = _ORT_WARNINGS_OFF
            options.intra_op_num_threads = self.threads
            self._native = ort.InferenceSession(
                graph, sess_options=options, providers=["CPUExecutionProvider"]
            )
            assert self._io is not None
            size = (self._io.height, self._io.width)
            anchors = len(self._anchors_for(*size))
            found = self._native.run(None, {self._native.get_inputs()[0].name: _blank(*size)})
            if found[0].shape[1] != anchors:
                raise ModelUnavailable(
                    f"{self.model_path}: {found[0].shape[1]} anchors, not the {anchors} of an "
                    "Ultra-Light model; it cannot run at native scale"
                )
        return self._native

    def _anchors_for(self, height: int, width: int) -> npt.NDArray[np.float32]:
        anchors = self._anchors.get((height, width))
        if anchors is None:
            anchors = self._anchors[(height, width)] = make_anchors(height, width)
        return anchors

    def _detect(self, image: RGBImage) -> list[DetectedFace]:
        assert self._session is not None
        assert self._io is not None
        left, top = 0, 0
        if self.keep_aspect:
            image, left, top = _letterbox(image, self._io.width / self._io.height)
        scores, boxes = self._session.run(
            ["scores", "boxes"], {self._io.input_name: _to_input(image, self._io)}
        )
        faces = self._decode(np.asarray(scores)[0, :, 1], np.asarray(boxes)[0], image.shape[:2])
        if left or top:
            return [DetectedFace(face.box.moved(-left, -top), face.score) for face in faces]
        return faces

    def _decode(
        self,
        scores: npt.NDArray[np.float32],
        corners: npt.NDArray[np.float32],
        shape: tuple[int, ...],
    ) -> list[DetectedFace]:
        """Threshold, scale normalised corners to pixels, and suppress overlaps."""
        height, width = shape[:2]
        keep = scores >= self.score_threshold
        pixels = corners[keep] * np.array([width, height, width, height], dtype=np.float32)
        kept_scores = scores[keep]
        faces = []
        for index in non_max_suppression(pixels, kept_scores, self.nms_iou):
            left, top, right, bottom = (float(v) for v in pixels[index])
            box = dlib_style_box(left, top, right, bottom)
            faces.append(DetectedFace(box, float(kept_scores[index])))
        logger.debug("onnx: %d faces from %d candidates", len(faces), int(keep.sum()))
        return faces


def make_anchors(height: int, width: int) -> npt.NDArray[np.float32]:
    """The model's anchors for an input of ``height`` x ``width``: N x (cx, cy, w, h), 0..1.

    In the order the network lays out its outputs (stride, then row, column, size). Centres
    are taken over the feature map's cells, which is what the shipped file's own decoding
    does at 640 x 480 (it differs from the cell centre only where 480 is no multiple of 64).
    """
    rows = []
    for stride, sizes in _ANCHOR_SIZES:
        cells_y, cells_x = math.ceil(height / stride), math.ceil(width / stride)
        y, x, size = np.meshgrid(
            (np.arange(cells_y) + 0.5) / cells_y,
            (np.arange(cells_x) + 0.5) / cells_x,
            np.asarray(sizes, dtype=np.float64),
            indexing="ij",
        )
        rows.append(np.stack([x, y, size / width, size / height], axis=-1).reshape(-1, 4))
    anchors: npt.NDArray[np.float32] = np.clip(np.concatenate(rows), 0.0, 1.0).astype(np.float32)
    return anchors


def _decode_boxes(
    offsets: npt.NDArray[np.float32], anchors: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """SSD box regression to normalised corners (x1, y1, x2, y2)."""
    centres = offsets[:, :2] * _CENTRE_VARIANCE * anchors[:, 2:] + anchors[:, :2]
    sizes = np.exp(offsets[:, 2:] * _SIZE_VARIANCE) * anchors[:, 2:]
    return np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)


def _face_probability(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Softmax over (background, face): the face column."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp[:, 1] / exp.sum(axis=1), dtype=np.float32)


def _undecoded_graph(path: Path) -> bytes:
    """The model cut before its box decoding, with a free input height and width.

    Its two outputs are the class logits and box offsets: the two Concat nodes joining the
    per-stride heads (each fed by Reshape nodes), the one feeding the Softmax first.
    """
    model = onnx.load(str(path))
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    heads = [
        node
        for node in graph.node
        if node.op_type == "Concat"
        and len(node.input) > 1
        and all(getattr(producers.get(name), "op_type", "") == "Reshape" for name in node.input)
    ]
    softmax_inputs = {node.input[0] for node in graph.node if node.op_type == "Softmax"}
    logits = [node.output[0] for node in heads if node.output[0] in softmax_inputs]
    offsets = [node.output[0] for node in heads if node.output[0] not in softmax_inputs]
    if len(logits) != 1 or len(offsets) != 1:
        raise ModelUnavailable(f"{path}: not laid out as an Ultra-Light model (heads not found)")
    needed, kept = {logits[0], offsets[0]}, []
    for node in reversed(graph.node):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    first = next(tensor for tensor in graph.input if tensor.name not in _initializers(graph))
    dims = first.type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    cut = onnx.helper.make_graph(
        list(reversed(kept)),
        graph.name,
        [first],
        [
            onnx.helper.make_tensor_value_info(logits[0], onnx.TensorProto.FLOAT, None),
            onnx.helper.make_tensor_value_info(offsets[0], onnx.TensorProto.FLOAT, None),
        ],
        [tensor for tensor in graph.initializer if tensor.name in needed],
    )
    serialised: bytes = onnx.helper.make_model(
        cut, opset_imports=model.opset_import
    ).SerializeToString()
    return serialised


def _initializers(graph: onnx.GraphProto) -> set[str]:
    return {tensor.name for tensor in graph.initializer}


def _blank(height: int, width: int) -> npt.NDArray[np.float32]:
    return np.zeros((1, 3, height, width), dtype=np.float32)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def dlib_style_box(left: float, top: float, right: float, bottom: float) -> Box:
    """The square box dlib's detectors would draw around the face an Ultra-Light box holds."""
    width, height = right - left, bottom - top
    side = round((width * _DLIB_SIDE_PER_WIDTH + height * _DLIB_SIDE_PER_HEIGHT) / 2)
    centre_x = (left + right) / 2
    centre_y = (top + bottom) / 2 + height * _DLIB_CENTRE_SHIFT
    square_left, square_top = round(centre_x - side / 2), round(centre_y - side / 2)
    return Box(square_left, square_top, square_left + side, square_top + side)


def non_max_suppression(
    boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], max_iou: float
) -> list[int]:
    """Indices of the boxes (x1, y1, x2, y2) kept, best score first, none overlapping > max_iou."""
    order = np.argsort(-scores, kind="stable")
    widths = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
    areas = widths * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    kept: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        kept.append(best)
        inter_w = np.clip(
            np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]),
            0,
            None,
        )
        inter_h = np.clip(
            np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]),
            0,
            None,
        )
        inter = inter_w * inter_h
        union = areas[best] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= max_iou]
    return kept


def _letterbox(image: RGBImage, aspect: float) -> tuple[RGBImage, int, int]:
    """``image`` centred in black borders to the width / height ``aspect``; its left, top."""
    height, width = image.shape[:2]
    wide, tall = max(width, round(height * aspect)), max(height, round(width / aspect))
    left, top = (wide - width) // 2, (tall - height) // 2
    if (wide, tall) == (width, height):
        return image, 0, 0
    bordered = cv2.copyMakeBorder(
        image, top, tall - height - top, left, wide - width - left, cv2.BORDER_CONSTANT, value=0
    )
    return np.ascontiguousarray(bordered, dtype=np.uint8), left, top


def _to_input(image: RGBImage, io: _ModelIO) -> npt.NDArray[np.float32]:
    """Resize to the model's size, normalise to about [-1, 1], and lay out as 1 x 3 x H x W."""
    resized = cv2.resize(image, (io.width, io.height), interpolation=cv2.INTER_LINEAR)
    normalised = (resized.astype(np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis])


def _check_sha256(path: Path, expected: str) -> None:
    """``ModelUnavailable`` unless the file's sha256 is ``expected`` (a damaged or swapped file)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected.lower():
        raise ModelUnavailable(
            f"{path} is not the expected Ultra-Light detector: sha256 {digest}, "
            f"expected {expected}; reinstall facewatch"
        )


def _inspect(session: ort.InferenceSession, path: Path) -> _ModelIO:
    """Check the model looks like an Ultra-Light detector and read its input size."""
    inputs = session.get_inputs()
    outputs = {output.name for output in session.get_outputs()}
    if len(inputs) != 1 or not {"scores", "boxes"} <= outputs:
        raise ModelUnavailable(
            f"{path} is not an Ultra-Light face detector: expected one input and outputs "
            f"'scores' and 'boxes', found inputs {[i.name for i in inputs]} and outputs "
            f"{sorted(outputs)}"
        )
    shape = list(inputs[0].shape)
    if len(shape) != 4 or shape[1] != 3 or not all(isinstance(d, int) for d in shape[2:]):
        raise ModelUnavailable(
            f"{path}: expected a fixed 1x3xHxW input (e.g. 1x3x480x640), found {shape}"
        )
    return _ModelIO(inputs[0].name, int(shape[2]), int(shape[3]))
