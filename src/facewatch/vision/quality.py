"""How usable a face is for recognition: size, sharpness and head pose, and the enrolment gate.

Measured with the HOG pipeline on the known-good faces of the test data (knn_examples/train
and the 55 aligned "johns" chips): box side 108..447 px, sharpness 18.1..2845 (5th
percentile 48; on dlib's 150 px chip as it is, before sharpness was measured at 112 px, which
gives about twice as much), yaw -22.7..+21.5 degrees, roll -5.7..+12.3 degrees, score
0.16..1.0. A Gaussian blur of sigma 6 brings faces of 130..310 px down to sharpness 4..10
(112 px measure); a face shrunk to 30 px comes back from the detector at 26..38 px; a head
turned about 45 degrees (Intel's head-pose clip) measures a yaw of about 47.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

from facewatch.types import Box, Landmarks, Quality, RGBImage

EnrolmentProblem = Literal["too_small", "too_blurry", "not_frontal"]

SHARPNESS_SIDE = 112
"""Chips are brought to this side before their sharpness is measured, so that the figure
means the same whatever chip the embedder reads (dlib's 150 x 150, EdgeFace's 112 x 112)."""
MIN_ENROLMENT_SHARPNESS = 15.0
"""Under this sharpness a face is refused for enrolment. Calibrated with EdgeFace on LFW
DevTrain (benchmarks/bench_enrolment_gate.py; one-photo templates, threshold at 1% of
strangers named). Real photos: the 3 templates under 20 named 5 of their person's 25 other
photos, the 25 of 20-40 99.6%, as the sharpest do. Templates blurred on purpose (750): under
10, 85% named; 10-15, 95%; 15-40, 90-97%; 40 and over, 96-100%. A Gaussian blur of sigma 10
(JPEG) brings a 260 px face down to 10; sigma 6, to 18-21."""
WARN_ENROLMENT_SHARPNESS = 40.0
"""Under this sharpness an enrolled face comes with a warning: faces blurred to 15-40 name
a few points fewer of their person's photos than sharper ones."""
DOMINANT_AREA_RATIO = 2.0
"""A photo of several faces enrols its largest when it has this many times the area of
every other face (people in the background); below, the photo is refused as ambiguous.
On LFW DevTrain the largest was the labelled person in all 64 photos at 1.5x or more, in
25 of 30 under 1.5x; 2.0 keeps a margin."""

# Ratio of the nose base's depth in front of the eye corners to the distance between eye
# centres (about 27 mm over 63 mm on an average adult face). Turning the head by yaw moves
# the nose sideways by depth * sin(yaw) while the eyes close up to distance * cos(yaw).
_NOSE_DEPTH_RATIO = 0.43
# A face this big (px) or sharp (``face_sharpness``) scores full marks on that count. The
# sharpness was 100 when measured on dlib's 150 x 150 chip as it is; the same chips brought
# to 112 px measure 1.85-2.1x as much (median 1.94 on 23 LFW faces).
_FULL_SIZE = 100.0
_FULL_SHARPNESS = 200.0
# At this yaw (degrees) the pose factor of the score reaches zero.
_ZERO_SCORE_YAW = 60.0


def assess_quality(box: Box, landmarks: Landmarks, chip: RGBImage) -> Quality:
    """Size, sharpness, pose and a combined score for one detected, aligned face."""
    size = max(min(box.width, box.height), 0)
    sharpness = face_sharpness(chip)
    yaw, roll = estimate_yaw(landmarks), estimate_roll(landmarks)
    return Quality(
        score=_score(size, sharpness, yaw),
        size=size,
        sharpness=sharpness,
        yaw=yaw,
        roll=roll,
    )


def enrolment_problem(
    quality: Quality, *, min_size: int, min_sharpness: float, max_yaw: float
) -> EnrolmentProblem | None:
    """Why a face cannot become a template (first reason found), or ``None`` if it can."""
    if quality.size < min_size:
        return "too_small"
    if quality.sharpness < min_sharpness:
        return "too_blurry"
    if abs(quality.yaw) > max_yaw:
        return "not_frontal"
    return None


def enrolment_face(
    boxes: Sequence[Box], *, min_size: int, area_ratio: float = DOMINANT_AREA_RATIO
) -> int | None:
    """Which face of a photo to enrol (its index), or ``None`` when two faces compete.

    The one face at least ``min_size`` px (else the largest, which the gate then finds too
    small), or, when several are, the largest if it is ``area_ratio`` times the area of
    every other face.
    """
    if not boxes:
        return None
    order = sorted(range(len(boxes)), key=lambda n: boxes[n].area, reverse=True)
    big = [n for n in order if min(boxes[n].width, boxes[n].height) >= min_size]
    if len(big) <= 1:
        return big[0] if big else order[0]
    largest, second = boxes[order[0]].area, boxes[order[1]].area
    return order[0] if largest >= area_ratio * second else None


def face_sharpness(chip: RGBImage) -> float:
    """``laplacian_variance`` of the chip brought to ``SHARPNESS_SIDE`` px, in grey."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    if grey.shape[:2] != (SHARPNESS_SIDE, SHARPNESS_SIDE):
        shrink = grey.shape[0] > SHARPNESS_SIDE
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        grey = cv2.resize(grey, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=interpolation)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def laplacian_variance(chip: RGBImage) -> float:
    """Variance of the Laplacian of the grey chip: low when the face is blurred or upscaled."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def estimate_yaw(landmarks: Landmarks) -> float:
    """Head turn in degrees, from the nose's offset along the eye line; positive: image right."""
    (ax, ay), (bx, by) = landmarks.eye_a, landmarks.eye_b
    nose_x, nose_y = landmarks.nose
    eye_dx, eye_dy = ax - bx, ay - by
    eye_distance = math.hypot(eye_dx, eye_dy)
    if eye_distance == 0:
        return 90.0
    mid_x, mid_y = (ax + bx) / 2, (ay + by) / 2
    offset = ((nose_x - mid_x) * eye_dx + (nose_y - mid_y) * eye_dy) / eye_distance
    return math.degrees(math.atan(offset / eye_distance / _NOSE_DEPTH_RATIO))


def estimate_roll(landmarks: Landmarks) -> float:
    """In-plane tilt of the eye line in degrees: 0 when level, positive clockwise on screen."""
    (ax, ay), (bx, by) = landmarks.eye_a, landmarks.eye_b
    # eye_a (the subject's left eye) is on the image's right in an upright face.
    return math.degrees(math.atan2(ay - by, ax - bx))


def _score(size: int, sharpness: float, yaw: float) -> float:
    """Product of three factors in [0, 1]: big enough, sharp enough, frontal enough."""
    size_factor = min(size / _FULL_SIZE, 1.0)
    sharpness_factor = min(sharpness / _FULL_SHARPNESS, 1.0)
    pose_factor = max(1.0 - (yaw / _ZERO_SCORE_YAW) ** 2, 0.0)
    return float(np.clip(size_factor * sharpness_factor * pose_factor, 0.0, 1.0))
