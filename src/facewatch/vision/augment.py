"""Jittered copies of an aligned face chip, cut from the photo: for sturdier enrolment templates.

One enrolment photo gives one embedding, which carries that photo's accidents (the exact
landmark positions, the head turned a little to one side). Averaging the embeddings of a
few slightly moved copies of the chip (mirrored, shifted, scaled, rotated) gives a template
nearer the person's average face. The copies are cut from a wider aligned chip of the
original photo, so a shifted or shrunk copy shows real surroundings, not a filled border.

The copies follow the embedder's own alignment: dlib's chip (``jittered_chips``) or a
chip fitted to template points such as EdgeFace's (``template_jittered_chips``, each copy
warped straight out of the photo by the alignment's transform composed with the move).

The set of copies is fixed (no randomness): the same photo always gives the same template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import dlib
import numpy as np
import numpy.typing as npt

from facewatch.types import Box, Embedding, Face, Landmarks, RGBImage
from facewatch.vision._dlib import to_shape
from facewatch.vision.align import (
    CHIP_PADDING,
    CHIP_SIZE,
    Matrix,
    TemplateAlignment,
    align_face,
    warp_chip,
)
from facewatch.vision.embedders.base import Embedder
from facewatch.vision.image import ensure_rgb

_WIDE_PADDING = 0.75
"""Padding of the wide chip the copies are cut from (room for shifts and zoom-outs)."""


@dataclass(frozen=True, slots=True)
class Jitter:
    """One move of the chip: mirror, shift (pixels of a 150-px chip), scale, rotation.

    Shifts are in pixels of dlib's 150-px chip; a chip of another size moves by as large a
    fraction of its side.
    """

    flip: bool = False
    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0
    degrees: float = 0.0


IDENTITY = Jitter()

ENROLMENT_JITTERS: tuple[Jitter, ...] = (
    IDENTITY,
    Jitter(flip=True),
    Jitter(dx=-4),
    Jitter(dx=4),
    Jitter(dy=-4),
    Jitter(dy=4),
    Jitter(scale=0.92),
    Jitter(scale=1.08),
    Jitter(degrees=-6),
    Jitter(degrees=6),
)
"""The copies averaged into an enrolment template, the unmoved chip first."""


def jittered_chips(
    image: RGBImage,
    box: Box,
    landmarks: Landmarks,
    jitters: Sequence[Jitter],
    *,
    size: int = CHIP_SIZE,
    padding: float = CHIP_PADDING,
) -> list[RGBImage]:
    """One ``size`` x ``size`` chip per jitter; ``IDENTITY`` gives ``align_face``'s chip.

    An unmoved copy (mirrored or not) is ``align_face``'s chip itself. For the others the
    face is aligned once into a wide chip at the same scale (padding ``_WIDE_PADDING``
    instead of ``padding``), and each copy is warped out of it.
    """
    if len(landmarks.points) != 5:
        raise ValueError(f"jittered chips need the 5 dlib landmarks, got {len(landmarks.points)}")
    chip = align_face(image, box, landmarks, size=size, padding=padding)
    face_px = size / (1 + 2 * padding)  # side of the landmark box in the chip
    wide_size = round(face_px * (1 + 2 * _WIDE_PADDING))
    wide = dlib.get_face_chip(ensure_rgb(image), to_shape(box, landmarks), wide_size, _WIDE_PADDING)
    wide = np.ascontiguousarray(wide, dtype=np.uint8)
    return [_copy(chip, wide, jitter) for jitter in jitters]


def _copy(chip: RGBImage, wide: RGBImage, jitter: Jitter) -> RGBImage:
    if replace(jitter, flip=False) == IDENTITY:
        return np.ascontiguousarray(chip[:, ::-1]) if jitter.flip else chip
    return _warp(wide, jitter, chip.shape[0])


def _warp(wide: RGBImage, jitter: Jitter, size: int) -> RGBImage:
    """Cut one jittered ``size`` chip out of the centre of ``wide``."""
    centre_in = (wide.shape[1] - 1) / 2.0
    matrix = _move(jitter, size) @ _shift(-centre_in + (size - 1) / 2.0)
    chip = cv2.warpAffine(
        wide, matrix[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if jitter.flip:
        chip = chip[:, ::-1]
    return np.ascontiguousarray(chip, dtype=np.uint8)


def template_jittered_chips(
    image: RGBImage, landmarks: Landmarks, alignment: TemplateAlignment, jitters: Sequence[Jitter]
) -> list[RGBImage]:
    """One chip of ``alignment`` per jitter; ``IDENTITY`` gives ``alignment.chip`` itself.

    Each copy is warped once out of the photo (its real surroundings, no blur of a second
    resampling): the alignment's transform, then the jitter about the chip's centre.
    """
    aligned = np.vstack([alignment.transform(landmarks), (0.0, 0.0, 1.0)])
    size = alignment.size
    chips = []
    for jitter in jitters:
        moved: Matrix = (_move(jitter, size) @ aligned)[:2]
        chip = warp_chip(image, moved, size)
        chips.append(np.ascontiguousarray(chip[:, ::-1]) if jitter.flip else chip)
    return chips


def _move(jitter: Jitter, size: int) -> Matrix:
    """The 3 x 3 chip-to-chip matrix of ``jitter`` (without the mirror), about the centre."""
    centre = (size - 1) / 2.0
    angle = math.radians(jitter.degrees)
    cos, sin = jitter.scale * math.cos(angle), jitter.scale * math.sin(angle)
    turn = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    step = size / CHIP_SIZE  # shifts are in pixels of a 150-px chip
    shifted: Matrix = _shift(centre, jitter.dx * step, jitter.dy * step) @ turn @ _shift(-centre)
    return shifted


def _shift(x: float, dx: float = 0.0, dy: float = 0.0) -> Matrix:
    """The 3 x 3 translation by (x + dx, x + dy)."""
    return np.array([[1.0, 0.0, x + dx], [0.0, 1.0, x + dy], [0.0, 0.0, 1.0]])


def template_of(vectors: npt.ArrayLike) -> Embedding:
    """The mean of a face's embeddings, scaled back to their mean length (float32)."""
    rows = np.asarray(vectors, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError("template_of needs at least one embedding")
    mean = rows.mean(axis=0)
    length = float(np.linalg.norm(mean))
    target = float(np.linalg.norm(rows, axis=1).mean())
    scaled = mean if length == 0.0 else mean * (target / length)
    template: Embedding = scaled.astype(np.float32)
    return template


def enrolment_template(embedder: Embedder, image: RGBImage, face: Face) -> Embedding:
    """One enrolment face's template: its embedding averaged with its jittered copies'.

    The copies are ``ENROLMENT_JITTERS`` cut as ``embedder`` aligns faces (the unmoved chip
    is ``face``'s own embedding, computed here if the face has none).
    """
    moves = ENROLMENT_JITTERS[1:]
    alignment = embedder.template_alignment
    if alignment is None:
        size = embedder.chip_size
        chips = jittered_chips(image, face.box, face.landmarks, moves, size=size)
    else:
        chips = template_jittered_chips(image, face.landmarks, alignment, moves)
    own = face.embedding if face.embedding is not None else embedder.embed([face.chip])[0]
    return template_of(np.vstack([own[None, :], embedder.embed(chips)]))
