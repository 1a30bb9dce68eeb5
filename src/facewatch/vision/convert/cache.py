"""Converted models on disk: built once from a dlib file, kept in the cache keyed by its sha256.

The cached file's name holds the sha256 of the source file and the converter's version, so
a changed model file or a changed converter builds a new graph and never reuses a stale one.
Files are written to a temporary name and renamed, so a crash (or two processes converting
at once) never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from facewatch.errors import ModelUnavailable
from facewatch.vision.convert.dlib_dnn import Network, Spec, read_network
from facewatch.vision.convert.dlib_format import DlibFormatError
from facewatch.vision.convert.mmod import mmod_metadata
from facewatch.vision.convert.onnx_graph import build_model
from facewatch.vision.convert.topologies import face_recognition_resnet, mmod_face_detector
from facewatch.vision.models import cnn_face_detector_path, face_recognition_model_path

logger = logging.getLogger(__name__)

CONVERTER_VERSION = 2
"""Bumped whenever the graphs built from the same source file change."""
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """The per-user cache directory for converted models (e.g. ``~/.cache/facewatch/models``)."""
    return Path(user_cache_dir("facewatch", appauthor=False)) / "models"


@dataclass(frozen=True, slots=True)
class ConvertibleModel:
    """A dlib model file that can be converted: where it is and which topology it has."""

    name: str
    locate: Callable[[], Path]
    topology: Callable[[], Sequence[Spec]]
    metadata: Callable[[Network], dict[str, str]] = lambda network: {}


DLIB_RESNET = ConvertibleModel(
    "dlib_face_recognition_resnet_model_v1", face_recognition_model_path, face_recognition_resnet
)
"""dlib's ResNet face descriptor (128-d)."""

DLIB_MMOD = ConvertibleModel(
    "mmod_human_face_detector", cnn_face_detector_path, mmod_face_detector, mmod_metadata
)
"""dlib's MMOD CNN face detector (score maps; see ``convert.mmod`` for their decoding)."""

CONVERTIBLE_MODELS = (DLIB_RESNET, DLIB_MMOD)
"""Every model ``facewatch models convert`` converts."""


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cached_path(model: ConvertibleModel, source: Path, cache_dir: Path) -> Path:
    """Where the graph converted from ``source`` is (or will be) cached."""
    digest = _read_digest(source)
    return cache_dir / f"{model.name}-{digest}-c{CONVERTER_VERSION}.onnx"


def ensure_converted(
    model: ConvertibleModel,
    source: Path | None = None,
    cache_dir: Path | None = None,
    *,
    rebuild: bool = False,
) -> Path:
    """The cached ONNX graph of ``source`` (default: the packaged file), converting if needed.

    Raises ``ModelUnavailable`` naming the file when it is missing, unreadable, corrupt or
    truncated, or when the cache directory cannot be written.
    """
    source = source or model.locate()
    target = cached_path(model, source, cache_dir or default_cache_dir())
    if target.is_file() and not rebuild:
        logger.debug("using converted model %s", target)
        return target
    convert(model, source, target)
    return target


def convert(model: ConvertibleModel, source: Path, target: Path) -> None:
    """Read the dlib file ``source`` and write the equivalent ONNX graph to ``target``."""
    data = _read_bytes(source)
    try:
        network = read_network(data, model.topology())
    except DlibFormatError as exc:
        raise ModelUnavailable(
            f"{source} is not a readable {model.name} file (corrupt or truncated?): {exc}"
        ) from exc
    onnx_model = build_model(
        network, doc=f"converted from {source.name} by Facewatch", metadata=model.metadata(network)
    )
    _write_atomically(target, onnx_model.SerializeToString())
    logger.info("converted %s to %s", source, target)


def _read_digest(source: Path) -> str:
    try:
        return sha256_file(source)
    except OSError as exc:
        raise ModelUnavailable(f"cannot read the model file {source}: {exc.strerror}") from exc


def _read_bytes(source: Path) -> bytes:
    try:
        return source.read_bytes()
    except OSError as exc:
        raise ModelUnavailable(f"cannot read the model file {source}: {exc.strerror}") from exc


def _write_atomically(target: Path, payload: bytes) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(payload)
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ModelUnavailable(
            f"cannot write the converted model {target}: {exc.strerror}"
        ) from exc
