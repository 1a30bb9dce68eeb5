"""Conversions between Facewatch's containers and dlib's (dlib rectangles are inclusive)."""

from __future__ import annotations

import dlib

from facewatch.types import Box, Landmarks


def to_rectangle(box: Box) -> dlib.rectangle:
    """A dlib rectangle covering the same pixels as ``box``."""
    return dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)


def from_rectangle(rect: dlib.rectangle) -> Box:
    """The ``Box`` (exclusive right and bottom) covering the same pixels as ``rect``."""
    return Box(int(rect.left()), int(rect.top()), int(rect.right()) + 1, int(rect.bottom()) + 1)


def to_shape(box: Box, landmarks: Landmarks) -> dlib.full_object_detection:
    """The dlib shape (box plus parts) that ``get_face_chip`` and the embedder read."""
    parts = [dlib.point(round(x), round(y)) for x, y in landmarks.points]
    return dlib.full_object_detection(to_rectangle(box), parts)


def from_shape(shape: dlib.full_object_detection) -> Landmarks:
    """The landmark points of a dlib shape, in dlib's order."""
    return Landmarks(tuple((float(p.x), float(p.y)) for p in shape.parts()))
