"""Best-shot selection: which faces of a track are worth the bandwidth.

``ShotMaker`` cuts each tracked face out of its frame and scores it (size, sharpness,
frontal pose: ``facewatch.vision.quality``). A ``ShotPolicy`` then decides what to send:

* ``best`` (default): the first usable shot as soon as the track is confirmed (seen in
  ``confirm_frames`` frames: a live alert), then a new shot only when the quality improves
  markedly, and the best remaining shot when the track ends if it beats every shot sent,
  never more than ``max_shots`` per track; a track never confirmed sends nothing; when the
  answer to a track's latest shot is ``uncertain`` (named neither way), the track's next
  usable shot goes out at once instead of waiting for a markedly better one, so a person
  whose first shot fell between the thresholds is judged again a frame or two later;
* ``every-frame``: every face of every processed frame (the older design, for benchmarks).
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from facewatch.edge.config import BestShotConfig, Policy
from facewatch.edge.types import Dispatch, Frame, Shot, ShotReason, TrackedFace
from facewatch.errors import ConfigurationError
from facewatch.types import Box, Landmarks, RGBImage
from facewatch.vision.align import align_face
from facewatch.vision.image import crop_face, crop_region
from facewatch.vision.landmarks import Landmarker
from facewatch.vision.quality import assess_quality

logger = logging.getLogger(__name__)


Aligner = Callable[[RGBImage, Box, Landmarks], RGBImage]
"""Cuts the aligned chip of a face: an embedder's ``align``, or dlib's ``align_face``."""


class ShotMaker:
    """Turns tracked faces of a frame into scored shots; faces under ``min_size`` are dropped.

    ``align`` cuts each shot's chip: pass the on-site embedder's ``align`` (embeddings and
    local modes embed that chip); without an embedder at hand (crops mode) it is dlib's
    ``align_face``, used only for the quality score.
    """

    def __init__(
        self,
        landmarker: Landmarker,
        *,
        margin: float,
        min_size: int,
        align: Aligner | None = None,
    ) -> None:
        self.landmarker = landmarker
        self.margin = margin
        self.min_size = min_size
        self.align: Aligner = align or _dlib_chip

    def shots(self, frame: Frame, faces: Iterable[TrackedFace]) -> list[Shot]:
        """One shot per face big enough to be recognised."""
        return [self._shot(frame, face) for face in faces if self._big_enough(face)]

    def _big_enough(self, face: TrackedFace) -> bool:
        return min(face.box.width, face.box.height) >= self.min_size

    def _shot(self, frame: Frame, face: TrackedFace) -> Shot:
        landmarks = self.landmarker.locate(frame.image, face.box)
        chip = self.align(frame.image, face.box, landmarks)
        height, width = frame.image.shape[:2]
        region = crop_region(face.box, self.margin, width, height)
        return Shot(
            camera_id=frame.camera_id,
            track_id=face.track_id,
            frame_index=frame.index,
            captured_at=frame.captured_at,
            box=face.box,
            crop=crop_face(frame.image, face.box, self.margin),
            face_in_crop=face.box.moved(-region.left, -region.top),
            chip=chip,
            quality=assess_quality(face.box, landmarks, chip),
        )


class ShotVerdict(StrEnum):
    """What the server (or the local gallery) made of a shot, as far as the policy cares."""

    NAMED = "named"
    """Known, or confidently nobody enrolled: no need for another look."""
    UNCERTAIN = "uncertain"
    """Between the thresholds: another shot may settle it."""
    NO_FACE = "no_face"
    """No face found in the shot (a false candidate, most likely)."""


def shot_verdict(statuses: Iterable[str]) -> ShotVerdict:
    """The verdict on a shot from the statuses of the faces found in it (``known``,
    ``uncertain``, ``unknown``): uncertain only when no face of it was named."""
    found = set(statuses)
    if not found:
        return ShotVerdict.NO_FACE
    if "uncertain" in found and "known" not in found:
        return ShotVerdict.UNCERTAIN
    return ShotVerdict.NAMED


def _dlib_chip(image: RGBImage, box: Box, landmarks: Landmarks) -> RGBImage:
    return align_face(image, box, landmarks)


class ShotPolicy(ABC):
    """Decides which shots go to the server."""

    @abstractmethod
    def observe(self, shots: Sequence[Shot]) -> list[Dispatch]:
        """The shots of one frame; those to send now."""

    @abstractmethod
    def end(self, track_ids: Iterable[int]) -> list[Dispatch]:
        """Tracks that ended; any last shots to send for them."""

    def answered(self, track_id: int, sequence: int, verdict: ShotVerdict) -> None:
        """The verdict on the shot ``sequence`` of a track (from any thread); ignored here."""
        del track_id, sequence, verdict  # policies that act on answers override this


class EveryFramePolicy(ShotPolicy):
    """Sends every shot (the older design's behaviour)."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def observe(self, shots: Sequence[Shot]) -> list[Dispatch]:
        return [Dispatch(shot, ShotReason.FRAME, self._next(shot.track_id)) for shot in shots]

    def end(self, track_ids: Iterable[int]) -> list[Dispatch]:
        for track_id in track_ids:
            self._counts.pop(track_id, None)
        return []

    def _next(self, track_id: int) -> int:
        sequence = self._counts.get(track_id, 0)
        self._counts[track_id] = sequence + 1
        return sequence


@dataclass(slots=True)
class _TrackState:
    seen: int = 0
    """Usable sightings so far."""
    sent: int = 0
    best_sent: float = 0.0
    last_sent: float = 0.0
    pending: Shot | None = None
    """The best shot not sent yet that beats every shot sent (the first or final shot)."""
    retry: bool = False
    """The latest shot sent was answered uncertain: send the next usable one."""


class BestShotPolicy(ShotPolicy):
    """The first usable shot once confirmed, markedly better ones after, the best at the end."""

    def __init__(self, config: BestShotConfig) -> None:
        self.config = config
        self._tracks: dict[int, _TrackState] = {}
        # Answers come from the uplink's thread; the frame loop takes them on its next frame.
        self._answers: dict[int, int] = {}
        self._answers_lock = threading.Lock()

    def answered(self, track_id: int, sequence: int, verdict: ShotVerdict) -> None:
        """An uncertain answer to a track's latest shot asks for its next usable shot."""
        if verdict is ShotVerdict.UNCERTAIN:
            with self._answers_lock:
                self._answers[track_id] = max(sequence, self._answers.get(track_id, -1))

    def observe(self, shots: Sequence[Shot]) -> list[Dispatch]:
        self._take_answers()
        sent: list[Dispatch] = []
        for shot in shots:
            if shot.quality.score < self.config.min_quality:
                continue
            dispatch = self._consider(self._tracks.setdefault(shot.track_id, _TrackState()), shot)
            if dispatch is not None:
                sent.append(dispatch)
        return sent

    def end(self, track_ids: Iterable[int]) -> list[Dispatch]:
        sent: list[Dispatch] = []
        for track_id in track_ids:
            state = self._tracks.pop(track_id, None)
            if state is not None and state.sent and state.pending and self._final_worth(state):
                sent.append(Dispatch(state.pending, ShotReason.FINAL, state.sent))
        return sent

    def _take_answers(self) -> None:
        """Mark the tracks whose latest shot sent was answered uncertain."""
        with self._answers_lock:
            answers, self._answers = self._answers, {}
        for track_id, sequence in answers.items():
            state = self._tracks.get(track_id)
            if state is not None and sequence == state.sent - 1:  # not superseded since
                state.retry = True

    def _consider(self, state: _TrackState, shot: Shot) -> Dispatch | None:
        score = shot.quality.score
        state.seen += 1
        if state.sent == 0:
            if state.pending is None or score > state.pending.quality.score:
                state.pending = shot
            if state.seen < self.config.confirm_frames:
                return None
            return self._send(state, state.pending, ShotReason.FIRST)
        # One shot of the cap is kept for the end of the track.
        room = state.sent < self.config.max_shots - 1
        if room and state.retry:
            return self._send(state, shot, ShotReason.RETRY)
        if room and self._marked_gain(state.last_sent, score):
            return self._send(state, shot, ShotReason.BETTER)
        if score > state.best_sent and (
            state.pending is None or score > state.pending.quality.score
        ):
            state.pending = shot
        return None

    def _marked_gain(self, reference: float, score: float) -> bool:
        gain = score - reference
        return gain >= self.config.min_gain and score >= reference * (1 + self.config.improvement)

    def _final_worth(self, state: _TrackState) -> bool:
        assert state.pending is not None
        if state.sent >= self.config.max_shots:
            return False
        return state.pending.quality.score - state.best_sent >= self.config.min_gain

    @staticmethod
    def _send(state: _TrackState, shot: Shot, reason: ShotReason) -> Dispatch:
        dispatch = Dispatch(shot, reason, state.sent)
        state.sent += 1
        state.last_sent = shot.quality.score
        state.best_sent = max(state.best_sent, shot.quality.score)
        state.retry = False
        if state.pending is not None and state.pending.quality.score <= state.best_sent:
            state.pending = None  # a better unsent shot stays the candidate for the end
        if state.pending is shot:
            state.pending = None
        return dispatch


def create_policy(name: Policy, config: BestShotConfig) -> ShotPolicy:
    """The shot policy called ``name``."""
    match name:
        case "best":
            return BestShotPolicy(config)
        case "every-frame":
            return EveryFramePolicy()
        case other:
            raise ConfigurationError(f"unknown policy {other!r}")
