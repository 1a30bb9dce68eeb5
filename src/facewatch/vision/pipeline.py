"""The whole vision pipeline for one image: detect, landmarks, align, quality, embed."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from facewatch.types import Box, DetectedFace, Face, RGBImage
from facewatch.vision.config import VisionSettings
from facewatch.vision.detectors import FaceDetector, UltraLightOnnxDetector, create_detector
from facewatch.vision.detectors.limits import check_native_shape, check_scaled_shape
from facewatch.vision.embedders import Embedder, create_embedder
from facewatch.vision.image import ensure_rgb
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.quality import assess_quality

logger = logging.getLogger(__name__)

SMALL_IMAGE_SIDE = 300
"""Images whose shorter side is at most this get a second detection pass when none is found."""
_RETRY_PADDING = 0.25
"""Border added around a small image on retry, as a fraction of its shorter side."""
_RETRY_UPSCALE_SIDE = 100
"""Small images up to this shorter side are also doubled in size on retry."""
CROP_SIDE = 160
"""Images whose shorter side is at most this are taken for face crops (see ``FaceAnalyzer``)."""
_CROP_PASSES = ((0.25, 128), (0.15, 160))
"""Per pass over a face crop: the replicated border (fraction of the shorter side) and the
shorter side (px, before the border) the crop is scaled to; the detector runs at that scale.
Measured on 282 crops (benchmarks/results.md, "Face crops: one scaled pass"): more faces
found than one plain pass plus a 4x padded retry, at about 60% of its CPU."""
HINT_MARGIN = 0.15
"""Around a face box the client gives (``face_box``): the region searched, as a fraction of
the box's side on every side (a replicated border where it leaves the image)."""
HINT_SIDE = 90
"""The given box's longer side (px) the region is scaled to: about the detector's native
face size, so one or two levels of its pyramid cover it."""
HINT_MIN_IOU = 0.3
"""A face found near the given box must overlap it this much to be taken for it."""
FALLBACK_CROP_PADDING = 0.5
"""Around a face crop given to the fallback detector: a replicated border, as a fraction of
the crop's shorter side, so that the face fills no more of the frame than the detector's
largest faces (a crop nearly filled by one face is no scene it was trained on)."""
FALLBACK_CROP_SIDE = 320
"""The bordered crop's shorter side (px) for the fallback detector's first look, at that
scale: on the 13 crops of the street and Hamilton clips that HOG misses it found 12 faces in
3.5 ms each, against 10 in 18.8 ms stretched to the detector's 640 x 480 input (every one of
those 10 among its 12). Small samples disagree (on another 44 crops it missed one the
stretched pass found), so the stretched pass still follows when this one finds nothing
(benchmarks/results.md, "Crops a second on a quiet machine")."""


class FaceAnalyzer:
    """Finds every face in an image and describes it (box, landmarks, chip, quality, embedding).

    Safe to share between threads: each model (detector, landmarker, embedder) holds its own
    lock, because dlib and OpenCV objects are not documented as thread-safe. One thread at a
    time runs a given model, while different threads may run different models side by side
    (for instance one detecting while another embeds).

    Face crops (an edge agent sends crops with a ~40% margin; 150 x 150 aligned chips) are
    small images that one face nearly fills, with little context around it. An image whose
    shorter side is at most ``crop_side`` is taken for one: it gets a replicated border and
    is scaled so that the face is about the detector's native size, then searched at that
    scale only (a second pass at a slightly larger scale, then the detector's own pass on the
    image as it is, if nothing is found). That is both cheaper and surer than searching the
    upsampled crop at every scale. Larger images whose
    shorter side is at most ``small_image_side`` get one padded retry when nothing is found.

    A client that has found the face already (an edge agent knows where the face lies in
    the crop it cut) may say so with ``face_box``: the detector then checks only the region
    around that box, scaled so the face is about its native size (a third of the pixels of
    a crop pass, and fewer pyramid levels). The box is a hint, never trusted: the face the
    detector confirms there is the one analysed, and when it confirms none the image is
    searched as if no box had been given.

    When all of that finds no face, the ``fallback`` detector (if any; ``create_analyzer``
    puts the packaged Ultra-Light detector behind HOG) has one go at the image, a crop with
    a wide border: another kind of detector finds faces HOG misses (turned, tilted, partly
    hidden, dark), and it costs nothing on the images where the first one finds a face.
    """

    def __init__(
        self,
        detector: FaceDetector,
        landmarker: Landmarker,
        embedder: Embedder,
        *,
        small_image_side: int = SMALL_IMAGE_SIDE,
        crop_side: int = CROP_SIDE,
        fallback: FaceDetector | None = None,
    ) -> None:
        self._detector = detector
        self._landmarker = landmarker
        self._embedder = embedder
        self._fallback = fallback
        self.small_image_side = small_image_side
        self.crop_side = crop_side

    @property
    def detector(self) -> FaceDetector:
        return self._detector

    @property
    def fallback(self) -> FaceDetector | None:
        """The detector tried when the first one finds no face (None: none)."""
        return self._fallback

    @property
    def landmarker(self) -> Landmarker:
        return self._landmarker

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def embedding_dim(self) -> int:
        """Length of the embeddings this analyzer makes."""
        return self._embedder.dim

    @property
    def model_id(self) -> str:
        """The embedding model id stored next to every embedding this analyzer makes."""
        return self._embedder.model_id

    def warm_up(self) -> None:
        """Load every model now (at start-up) instead of on the first request."""
        self._detector.load()
        if self._fallback is not None:
            self._fallback.load()
        self._landmarker.load()
        self._embedder.load()

    def analyze(
        self, image: RGBImage, *, embed: bool = True, face_box: Box | None = None
    ) -> list[Face]:
        """Every face in ``image``, left to right; ``embed=False`` skips the embeddings.

        ``face_box``: where the client found the one face it wants analysed (see the class).
        """
        image = ensure_rgb(image)
        detections = self.detect(image, face_box)
        faces = sorted(
            (self._describe(image, detection) for detection in detections),
            key=lambda face: (face.box.left, face.box.top),
        )
        if embed and faces:
            vectors = self._embedder.embed([face.chip for face in faces])
            for face, vector in zip(faces, vectors, strict=True):
                face.embedding = vector
        logger.debug("analyzed %dx%d image: %d faces", image.shape[1], image.shape[0], len(faces))
        return faces

    def detect(self, image: RGBImage, face_box: Box | None = None) -> list[DetectedFace]:
        """The detector's faces; face crops, small images, given boxes and the fallback
        detector as the class says."""
        if face_box is not None:
            confirmed = self._detect_near(image, face_box)
            if confirmed is not None:
                return [confirmed]
        shorter = min(image.shape[:2])
        if shorter <= self.crop_side:
            return self._detect_crop(image)
        found = self._detector.detect(image)
        if found or shorter > self.small_image_side:
            return found or self._detect_fallback(image, 0.0)
        scale = 2.0 if shorter <= _RETRY_UPSCALE_SIDE else 1.0
        found = self._detect_transformed(image, _RETRY_PADDING, scale, native_scale=False)
        return found or self._detect_fallback(image, _RETRY_PADDING)

    def _detect_crop(self, image: RGBImage) -> list[DetectedFace]:
        """A face crop, bordered and scaled to the detector's native face size per pass.

        When neither pass finds a face, the detector has its own go at the image as it is
        (a small photo with a small face in it is not a crop), then the fallback detector.
        """
        shorter = min(image.shape[:2])
        for padding, side in _CROP_PASSES:
            found = self._detect_transformed(image, padding, side / shorter, native_scale=True)
            if found:
                return found
        return (
            self._detector.detect(image)
            or self._detect_fallback(image, FALLBACK_CROP_PADDING, native_side=FALLBACK_CROP_SIDE)
            or self._detect_fallback(image, FALLBACK_CROP_PADDING)
        )

    def _detect_fallback(
        self, image: RGBImage, padding: float, *, native_side: int | None = None
    ) -> list[DetectedFace]:
        """The fallback detector's faces (none without one), on a copy with a replicated
        border of ``padding`` (a fraction of the shorter side); boxes in ``image``'s frame.

        ``native_side``: the bordered copy is scaled to this shorter side and searched at
        that scale, instead of stretched to the detector's own input size."""
        if self._fallback is None:
            return []
        height, width = image.shape[:2]
        pad = round(min(height, width) * padding)
        scale = 1.0 if native_side is None else native_side / (min(height, width) + 2 * pad)
        bordered = _pad_and_scale(image, pad, scale) if pad or scale != 1.0 else image
        found = [
            DetectedFace(_unmap_box(face.box, pad, scale).clip(width, height), face.score)
            for face in self._fallback.detect(bordered, native_scale=native_side is not None)
        ]
        found = [face for face in found if face.box.area > 0]
        logger.debug("%dx%d image: fallback %s found %d faces", width, height,
                     self._fallback.name, len(found))  # fmt: skip
        return found

    def _detect_near(self, image: RGBImage, box: Box) -> DetectedFace | None:
        """The face the detector finds around ``box`` that overlaps it most, if enough."""
        height, width = image.shape[:2]
        if box.width <= 0 or box.height <= 0 or 2 * box.clip(width, height).area < box.area:
            return None  # mostly outside the image: not a box in it
        grow = round(max(box.width, box.height) * HINT_MARGIN)
        region = Box(box.left - grow, box.top - grow, box.right + grow, box.bottom + grow)
        scale = HINT_SIDE / max(box.width, box.height)
        pixels = _region(image, region, scale)
        near = [
            DetectedFace(_unmap_box(face.box, 0, scale, region).clip(width, height), face.score)
            for face in self._detector.detect(pixels, native_scale=True)
        ]
        overlapping = [face for face in near if face.box.iou(box) >= HINT_MIN_IOU]
        best = max(overlapping, key=lambda face: face.box.iou(box), default=None)
        logger.debug("face box %s confirmed: %s", box.as_list(), best is not None)
        return best

    def _detect_transformed(
        self, image: RGBImage, padding: float, scale: float, *, native_scale: bool
    ) -> list[DetectedFace]:
        """Detect on a copy with a replicated border and scaled; boxes in ``image``'s frame."""
        # Tight crops lack the context around the face that detectors were trained with.
        height, width = image.shape[:2]
        pad = round(min(height, width) * padding)
        larger = _pad_and_scale(image, pad, scale)
        found = [
            DetectedFace(_unmap_box(face.box, pad, scale).clip(width, height), face.score)
            for face in self._detector.detect(larger, native_scale=native_scale)
        ]
        logger.debug(
            "%dx%d image, border %d, scale %.2f: %d faces", width, height, pad, scale, len(found)
        )
        return [face for face in found if face.box.area > 0]

    def _describe(self, image: RGBImage, detection: DetectedFace) -> Face:
        landmarks = self._landmarker.locate(image, detection.box)
        chip = self._embedder.align(image, detection.box, landmarks)
        return Face(
            box=detection.box,
            detector_score=detection.score,
            landmarks=landmarks,
            chip=chip,
            quality=assess_quality(detection.box, landmarks, chip),
        )


def create_analyzer(settings: VisionSettings) -> FaceAnalyzer:
    """The analyzer ``settings`` describe; models load on first use (or ``warm_up``).

    Behind HOG, the packaged Ultra-Light detector looks again at images where HOG finds
    no face (benchmarks/results.md, "Missed faces on LFW").
    """
    fallback = (
        UltraLightOnnxDetector(threads=settings.embedder_threads, keep_aspect=True)
        if settings.detector == "hog"
        else None
    )
    return FaceAnalyzer(
        create_detector(settings), Landmarker(), create_embedder(settings), fallback=fallback
    )


def _pad_and_scale(image: RGBImage, pad: int, scale: float) -> RGBImage:
    """``image`` with a replicated border of ``pad``, scaled by ``scale``; ``InvalidImage``
    (before any pixel is made) if the result would break the detectors' limits."""
    height, width = image.shape[:2]
    check_scaled_shape(round((height + 2 * pad) * scale), round((width + 2 * pad) * scale))
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    if scale != 1.0:
        shrink = scale < 1.0
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        padded = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=interpolation)
    return np.ascontiguousarray(padded, dtype=np.uint8)


def _region(image: RGBImage, region: Box, scale: float) -> RGBImage:
    """``region`` of ``image`` (replicated where it leaves the image), scaled by ``scale``."""
    check_native_shape(region.height, region.width)  # the bordered copy, before scaling
    check_scaled_shape(round(region.height * scale), round(region.width * scale))
    height, width = image.shape[:2]
    inside = region.clip(width, height)
    bordered = cv2.copyMakeBorder(
        image[inside.top : inside.bottom, inside.left : inside.right],
        inside.top - region.top,
        region.bottom - inside.bottom,
        inside.left - region.left,
        region.right - inside.right,
        cv2.BORDER_REPLICATE,
    )
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    scaled = cv2.resize(bordered, None, fx=scale, fy=scale, interpolation=interpolation)
    return np.ascontiguousarray(scaled, dtype=np.uint8)


def _unmap_box(box: Box, pad: int, scale: float, region: Box | None = None) -> Box:
    """Map a box found in the padded, scaled image (or ``region`` of it) back to the image."""
    dx = (region.left if region else 0) - pad
    dy = (region.top if region else 0) - pad
    return box.scaled(1 / scale).moved(dx, dy)
