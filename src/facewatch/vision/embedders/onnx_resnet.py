"""dlib's ResNet face descriptor run by onnxruntime: the same descriptors, ~15x faster.

The graph is converted from dlib's own model file (``facewatch.vision.convert``) on first
use and cached keyed by the file's sha256. Its descriptors match dlib's within 1e-4 (max
absolute difference; about 1e-6 in practice), so it keeps dlib's ``model_id``: templates
enrolled with one runtime are matched by the other.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf

from facewatch.errors import ModelUnavailable
from facewatch.types import RGBImage
from facewatch.vision.convert import DLIB_RESNET, ensure_converted
from facewatch.vision.convert.onnx_graph import INPUT_NAME, OUTPUT_NAME
from facewatch.vision.embedders.base import Embedder
from facewatch.vision.embedders.specs import DLIB_RESNET_V1
from facewatch.vision.onnx import cpu_session

logger = logging.getLogger(__name__)

_LOAD_ERRORS = (Fail, InvalidGraph, InvalidProtobuf)


class OnnxResNetEmbedder(Embedder):
    """dlib_face_recognition_resnet_model_v1 on onnxruntime (CPU), in batches.

    ``threads`` is onnxruntime's intra-op thread count (0: one per core); every graph
    optimisation is on. ``model_path`` is the dlib ``.dat`` file (default: the packaged one),
    ``cache_dir`` where its conversion is kept (default: the user cache dir).
    """

    spec = DLIB_RESNET_V1

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        cache_dir: Path | None = None,
        threads: int = 0,
        batch_size: int = 32,
    ) -> None:
        super().__init__()
        self.check_run_options(batch_size, threads)
        self._model_path = model_path
        self._cache_dir = cache_dir
        self.threads = threads
        self.batch_size = batch_size
        self._session: ort.InferenceSession | None = None

    def _load(self) -> None:
        path = ensure_converted(DLIB_RESNET, self._model_path, self._cache_dir)
        try:
            self._session = self._open(path)
        except _LOAD_ERRORS:
            # A cached graph damaged on disk: convert again once, then give up loudly.
            logger.warning("converted model %s is unreadable; converting again", path)
            path = ensure_converted(DLIB_RESNET, self._model_path, self._cache_dir, rebuild=True)
            try:
                self._session = self._open(path)
            except _LOAD_ERRORS as exc:
                raise ModelUnavailable(f"onnxruntime cannot load {path}: {exc}") from exc
        logger.debug("loaded %s with %s threads", path, self.threads or "all")

    def _open(self, path: Path) -> ort.InferenceSession:
        return cpu_session(path, self.threads)

    def _embed(self, chips: list[RGBImage]) -> npt.NDArray[np.float32]:
        assert self._session is not None
        rows: list[npt.NDArray[np.float32]] = []
        for start in range(0, len(chips), self.batch_size):
            batch = np.stack(chips[start : start + self.batch_size])
            (descriptors,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})
            rows.append(np.asarray(descriptors, dtype=np.float32))
        return np.concatenate(rows)
