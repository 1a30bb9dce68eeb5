"""How usable a face is for recognition: size, sharpness and head pose, and the enrolment gate.

Measured with the HOG pipeline on the known-good faces of the test data (knn_examples/train
and the 55 aligned "johns" chips): box side 108..447 px, sharpness 18.1..2845 (5th
percentile 48), yaw -22.7..+21.5 degrees, roll -5.7..+12.3 degrees, score 0.16..1.0. A
Gaussian blur of sigma 4 brings faces of 100..270 px down to sharpness 4..13; a face shrunk
to 30 px comes back from the detector at 26..38 px; a head turned about 45 degrees (Intel's
head-pose clip) measures a yaw of about 47.
"""

from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np

from facewatch.types import Box, Landmarks, Quality, RGBImage

EnrolmentProblem = Literal["too_small", "too_blurry", "not_frontal"]

# Ratio of the nose base's depth in front of the eye corners to the distance between eye
# centres (about 27 mm over 63 mm on an average adult face). Turning the head by yaw moves
# the nose sideways by depth * sin(yaw) while the eyes close up to distance * cos(yaw).
_NOSE_DEPTH_RATIO = 0.43
# A face this big (px) or sharp (Laplacian variance) scores full marks on that count.
_FULL_SIZE = 100.0
_FULL_SHARPNESS = 100.0
# At this yaw (degrees) the pose factor of the score reaches zero.
_ZERO_SCORE_YAW = 60.0


def assess_quality(box: Box, landmarks: Landmarks, chip: RGBImage) -> Quality:
    """Size, sharpness, pose and a combined score for one detected, aligned face."""
    size = max(min(box.width, box.height), 0)
    sharpness = laplacian_variance(chip)
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
