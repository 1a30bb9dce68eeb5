"""Aligned face chips: the face turned upright, scaled and cropped as an embedder expects.

Two geometries live here: dlib's own chip (``align_face``, what dlib's ResNet reads) and a
chip fitted to fixed points of the five landmarks by a similarity transform
(``TemplateAlignment``; ``ARCFACE_112`` is the ArcFace-style crop that EdgeFace reads).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import dlib
import numpy as np
import numpy.typing as npt

from facewatch.types import Box, Landmarks, Point, RGBImage
from facewatch.vision._dlib import to_shape
from facewatch.vision.image import ensure_rgb

CHIP_SIZE = 150
"""Side of the chips dlib's ResNet embedder reads."""
CHIP_PADDING = 0.25
"""Border around the landmarks, as a fraction of the face; dlib's recognition example uses 0.25."""

Matrix = npt.NDArray[np.float64]
"""A 2 x 3 affine matrix taking image coordinates to chip coordinates."""


def align_face(
    image: RGBImage,
    box: Box,
    landmarks: Landmarks,
    *,
    size: int = CHIP_SIZE,
    padding: float = CHIP_PADDING,
) -> RGBImage:
    """A ``size`` x ``size`` RGB chip of the face, eyes level and at a fixed position."""
    if len(landmarks.points) != 5:
        raise ValueError(f"alignment needs the 5 dlib landmarks, got {len(landmarks.points)}")
    chip = dlib.get_face_chip(ensure_rgb(image), to_shape(box, landmarks), size, padding)
    return np.ascontiguousarray(chip, dtype=np.uint8)


def similarity_transform(source: npt.ArrayLike, target: npt.ArrayLike) -> Matrix:
    """The rotation, uniform scale and shift taking ``source`` points nearest ``target``.

    Least squares over all points (Umeyama 1991, without reflection), as a 2 x 3 matrix.
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two equal (N>=2, 2) point sets, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = float((src_c**2).sum()) / len(src)
    if src_var == 0.0:
        raise ValueError("the source points all coincide")
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # the best fit would mirror: forbid it
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum()) / src_var
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def warp_chip(image: RGBImage, matrix: Matrix, size: int) -> RGBImage:
    """The ``size`` x ``size`` chip that ``matrix`` cuts out of ``image`` (black outside it)."""
    chip = cv2.warpAffine(
        ensure_rgb(image),
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.ascontiguousarray(chip, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class TemplateAlignment:
    """A chip cut by the similarity transform that takes the five landmarks nearest ``points``."""

    points: tuple[Point, ...]
    """Where dlib's five landmarks should land in the chip, in dlib's order."""
    size: int
    """Side of the square chip."""

    def transform(self, landmarks: Landmarks) -> Matrix:
        """The image-to-chip matrix of this face."""
        if len(landmarks.points) != len(self.points):
            raise ValueError(
                f"alignment needs the {len(self.points)} dlib landmarks, "
                f"got {len(landmarks.points)}"
            )
        return similarity_transform(landmarks.points, self.points)

    def chip(self, image: RGBImage, landmarks: Landmarks) -> RGBImage:
        """The aligned ``size`` x ``size`` RGB chip of the face."""
        return warp_chip(image, self.transform(landmarks), self.size)


ARCFACE_112 = TemplateAlignment(
    points=((80.48, 52.76), (66.66, 53.15), (31.19, 52.94), (45.08, 53.26), (56.01, 79.55)),
    size=112,
)
"""The 112 x 112 ArcFace-style chip (EdgeFace's). The points are where dlib's five landmarks
(the subject's left eye outer and inner corner, right eye outer and inner corner, nose base)
fall on the standard ArcFace template, fitted on 400 LFW faces (../shared/models/README.md)."""
