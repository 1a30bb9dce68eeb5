"""The face detector interface every implementation follows."""

from __future__ import annotations

from abc import abstractmethod

from facewatch.types import DetectedFace, RGBImage
from facewatch.vision.detectors.limits import check_native_shape
from facewatch.vision.image import ensure_rgb
from facewatch.vision.lazy import LazyModel


class FaceDetector(LazyModel):
    """Finds faces in an RGB image; the model is loaded on the first ``detect``.

    Subclasses set ``name`` and implement ``_load`` and ``_detect``. Boxes come back
    clipped to the image, best score first; calls on one instance run one at a time.
    """

    name: str

    def detect(self, image: RGBImage, *, native_scale: bool = False) -> list[DetectedFace]:
        """The faces in ``image`` (H x W x 3 uint8 RGB), best score first.

        ``native_scale=True`` looks at the image's own scale only, with none of the
        detector's own upsampling: for callers that have scaled the image themselves.
        ``InvalidImage`` for a shape the model's native code must not be given (see
        ``detectors.limits``); detectors that upsample do so only within those limits.
        """
        image = ensure_rgb(image)
        height, width = image.shape[:2]
        check_native_shape(height, width)
        with self._lock:
            self.load()
            found = self._detect_native(image) if native_scale else self._detect(image)
        clipped = (DetectedFace(face.box.clip(width, height), face.score) for face in found)
        faces = [face for face in clipped if face.box.area > 0]
        return sorted(faces, key=lambda face: face.score, reverse=True)

    @abstractmethod
    def _detect(self, image: RGBImage) -> list[DetectedFace]:
        """Run the loaded model on a validated, contiguous RGB image."""

    def _detect_native(self, image: RGBImage) -> list[DetectedFace]:
        """``_detect`` without upsampling; detectors that upsample override it."""
        return self._detect(image)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
