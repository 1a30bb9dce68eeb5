"""Typed containers passed between the edge agent's stages. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from facewatch.types import Box, Embedding, Quality, RGBImage


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame of a camera."""

    camera_id: str
    index: int
    """Frame number within the source, from 0."""
    position: float
    """Seconds since the source started: the video position for files, wall time for live."""
    captured_at: datetime
    """When the frame was captured (timezone-aware UTC)."""
    image: RGBImage


@dataclass(frozen=True, slots=True)
class FaceCandidate:
    """A box the fast detector thinks may hold a face, in full-frame pixels."""

    box: Box
    score: float


@dataclass(frozen=True, slots=True)
class TrackedFace:
    """A candidate the tracker matched to a track in the current frame."""

    track_id: int
    box: Box
    score: float


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What the tracker says after one frame: faces seen now, and tracks that just ended."""

    faces: list[TrackedFace]
    ended: list[int] = field(default_factory=list)


class ShotReason(StrEnum):
    """Why a shot is sent."""

    FIRST = "first"
    """The first usable shot of a track (for live alerts)."""
    BETTER = "better"
    """Markedly better than the last shot sent of the track."""
    RETRY = "retry"
    """The track's next usable shot, sent because the server (or the local gallery) was
    uncertain about the shot sent before it."""
    FINAL = "final"
    """The best shot of a track that ended, if better than every shot sent."""
    FRAME = "frame"
    """Policy ``every-frame``: every face of every processed frame."""


@dataclass(frozen=True, slots=True)
class Shot:
    """One face of one frame, cut out and scored, ready to be encoded."""

    camera_id: str
    track_id: int
    frame_index: int
    captured_at: datetime
    box: Box
    """The face box in full-frame pixels."""
    crop: RGBImage
    """The face with its margin, at full resolution (scaled down by the encoder)."""
    face_in_crop: Box
    """``box`` in ``crop``'s pixels: sent with the crop, the server checks only there."""
    chip: RGBImage
    """The aligned chip (``ShotMaker.align``: the embedder's own chip in embeddings mode)."""
    quality: Quality


@dataclass(frozen=True, slots=True)
class Dispatch:
    """A shot the policy chose to send, and why."""

    shot: Shot
    reason: ShotReason
    sequence: int
    """The how-manieth shot sent of its track, from 0 (part of the idempotency key)."""


@dataclass(frozen=True, slots=True)
class EncodedImage:
    """A face crop encoded for the wire."""

    data: bytes
    media_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class FaceEmbedding:
    """An embedding made on site (embeddings mode), with the model that made it."""

    vector: Embedding
    model: str
