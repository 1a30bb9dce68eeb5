"""EdgeFace-XS (Idiap, BSD 3-Clause): 512-d, ArcFace-style 112 x 112 chips, about 2.4 ms a face.

The int8 ONNX file ships inside the package (``facewatch/vision/weights``, with its licence
and notice) and is checked against its sha256 before onnxruntime reads it: a damaged or
swapped file is refused, never silently used with another model's id and thresholds.
``scripts/convert_edgeface.py`` rebuilds it from the published weights.
"""

from __future__ import annotations

import hashlib
import logging
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

from facewatch.errors import ModelUnavailable
from facewatch.types import RGBImage
from facewatch.vision.align import ARCFACE_112
from facewatch.vision.embedders.base import Embedder
from facewatch.vision.embedders.specs import EDGEFACE_XS_FLOAT, EDGEFACE_XS_INT8
from facewatch.vision.onnx import cpu_session

logger = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "facewatch.vision"
WEIGHTS_FOLDER = "weights"
EDGEFACE_XS_INT8_FILE = "edgeface_xs_int8.onnx"
EDGEFACE_XS_INT8_SHA256 = "59e1b6e4da2891d151442314da510df8460ee71dca577ecea153511ca9887082"
EDGEFACE_XS_FLOAT_SHA256 = "30e899551c6450243a1ef58bf2429a6f2fa727384ae7eaf5c751a1ee8a1082b4"
"""The float file of ../shared/models (``edgeface_xs.onnx``); it is not shipped."""

INPUT_NAME = "input"
OUTPUT_NAME = "embedding"
_LOAD_ERRORS = (Fail, InvalidGraph, InvalidProtobuf)


def packaged_weights(name: str) -> Path:
    """The path of a model file shipped in ``facewatch/vision/weights``."""
    return Path(str(resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FOLDER, name)))


class EdgeFaceEmbedder(Embedder):
    """EdgeFace-XS, dynamic int8, on onnxruntime (CPU); L2-normalised vectors.

    ``threads`` is onnxruntime's intra-op thread count (0: one per core). ``model_path``
    replaces the packaged file (it must still have the expected sha256: the model id
    promises these weights).

    Dynamic int8 quantizes each activation tensor with that tensor's own range, so a chip
    run in a batch would get a vector that depends on the other chips of the batch (up to
    0.16 in distance on the johns chips, as much as int8 differs from float). So that a face
    always gets the same vector (the server one at a time, enrolment, re-embedding and
    evaluation in batches), the int8 model runs one chip per call by default; batch 1 is
    what a recognition request runs anyway. ``exact_batches=False`` runs ``batch_size``
    chips per call instead (faster in bulk; benchmarks/results.md). The float model is
    batch-invariant and always runs in batches.
    """

    spec = EDGEFACE_XS_INT8
    template_alignment = ARCFACE_112
    sha256: ClassVar[str] = EDGEFACE_XS_INT8_SHA256
    packaged_file: ClassVar[str | None] = EDGEFACE_XS_INT8_FILE
    dynamic_int8: ClassVar[bool] = True
    """Whether a chip's output depends on the rest of its batch (see the class)."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        threads: int = 0,
        batch_size: int = 32,
        exact_batches: bool = True,
    ) -> None:
        super().__init__()
        self.check_run_options(batch_size, threads)
        self._model_path = model_path
        self.threads = threads
        self.batch_size = batch_size
        self.exact_batches = exact_batches
        self._session: ort.InferenceSession | None = None

    @property
    def run_size(self) -> int:
        """Chips per onnxruntime call."""
        return 1 if self.dynamic_int8 and self.exact_batches else self.batch_size

    @property
    def model_path(self) -> Path:
        """The ONNX file this embedder runs."""
        if self._model_path is not None:
            return self._model_path
        if self.packaged_file is None:
            raise ModelUnavailable(f"{self.model_id} is not shipped: give its model_path")
        return packaged_weights(self.packaged_file)

    def _load(self) -> None:
        path = self.model_path
        model = _read_checked(path, self.sha256, self.model_id)
        try:
            self._session = cpu_session(model, self.threads)
        except _LOAD_ERRORS as exc:
            raise ModelUnavailable(f"onnxruntime cannot load {path}: {exc}") from exc
        logger.debug("loaded %s from %s, %s threads", self.model_id, path, self.threads or "all")

    def _embed(self, chips: list[RGBImage]) -> npt.NDArray[np.float32]:
        assert self._session is not None
        rows: list[npt.NDArray[np.float32]] = []
        step = self.run_size
        for start in range(0, len(chips), step):
            batch = to_input(chips[start : start + step])
            (raw,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})
            rows.append(l2_normalised(np.asarray(raw, dtype=np.float32)))
        return np.concatenate(rows)


class EdgeFaceFloatEmbedder(EdgeFaceEmbedder):
    """The float32 EdgeFace-XS (``edgeface_xs.onnx``): not shipped; for parity and benchmarks."""

    spec = EDGEFACE_XS_FLOAT
    sha256 = EDGEFACE_XS_FLOAT_SHA256
    packaged_file = None
    dynamic_int8 = False


def to_input(chips: list[RGBImage]) -> npt.NDArray[np.float32]:
    """RGB uint8 chips as the network's N x 3 x H x W input, scaled to [-1, 1]."""
    batch = np.stack(chips).astype(np.float32)
    batch = (batch - 127.5) / 127.5
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def l2_normalised(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Each row scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    scaled: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return scaled


def _read_checked(path: Path, expected: str, model_id: str) -> bytes:
    """The bytes of ``path`` if their sha256 is ``expected``; else ``ModelUnavailable``."""
    try:
        model = path.read_bytes()
    except OSError as exc:
        raise ModelUnavailable(f"cannot read the {model_id} model file {path}: {exc}") from exc
    actual = hashlib.sha256(model).hexdigest()
    if actual != expected:
        raise ModelUnavailable(
            f"the {model_id} model file {path} has sha256 {actual}, not {expected}: it is "
            "damaged or not the file this model id names; reinstall facewatch"
        )
    return model
