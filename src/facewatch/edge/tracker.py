"""Tracking: the same face across frames gets the same track id (norfair underneath).

``FaceTracker`` is the interface the agent uses; ``NorfairTracker`` implements it with
norfair's Kalman-filtered IoU matching. The boxes handed on are the detector's own boxes of
the current frame (sharper than the filter's estimate), never predictions.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from facewatch.edge.config import TrackerConfig
from facewatch.edge.types import FaceCandidate, TrackedFace, TrackUpdate
from facewatch.errors import ConfigurationError

logger = logging.getLogger(__name__)


class FaceTracker(ABC):
    """Gives each candidate of a frame a track id and says when tracks end."""

    @abstractmethod
    def update(self, candidates: Sequence[FaceCandidate]) -> TrackUpdate:
        """The candidates of the next processed frame, matched to tracks."""

    @abstractmethod
    def finish(self) -> list[int]:
        """End every live track (the source ended); their ids."""


@dataclass(frozen=True, slots=True)
class _Tag:
    """What the agent attaches to each norfair detection to find it again."""

    step: int
    candidate: FaceCandidate


class NorfairTracker(FaceTracker):
    """norfair's ``Tracker`` on box corners with IoU distance.

    A track starts on its first candidate (no initialisation delay: the first shot of a
    person goes out at once) and ends after ``max_missed`` processed frames without one.
    """

    def __init__(self, config: TrackerConfig) -> None:
        try:
            from norfair import Detection, Tracker
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigurationError(
                "the edge agent needs its tracker: pip install 'facewatch[edge]'"
            ) from exc
        self._detection = Detection
        self._tracker = Tracker(
            distance_function="iou",
            distance_threshold=config.max_distance,
            hit_counter_max=config.max_missed,
            initialization_delay=0,
        )
        self._step = 0
        self._live: set[int] = set()

    def update(self, candidates: Sequence[FaceCandidate]) -> TrackUpdate:
        self._step += 1
        detections = [
            self._detection(_corners(candidate), data=_Tag(self._step, candidate))
            for candidate in candidates
        ]
        active = self._tracker.update(detections=detections)
        faces = [face for obj in active if (face := self._matched(obj)) is not None]
        alive = {obj.id for obj in self._tracker.tracked_objects if obj.id is not None}
        ended = sorted(self._live - alive)
        self._live = (self._live & alive) | {face.track_id for face in faces}
        return TrackUpdate(faces=sorted(faces, key=lambda f: f.track_id), ended=ended)

    def finish(self) -> list[int]:
        ended = sorted(self._live)
        self._live.clear()
        return ended

    def _matched(self, obj: object) -> TrackedFace | None:
        """The tracked face if ``obj`` was matched to a candidate of this very frame."""
        track_id = getattr(obj, "id", None)
        detection = getattr(obj, "last_detection", None)
        tag = getattr(detection, "data", None)
        if track_id is None or not isinstance(tag, _Tag) or tag.step != self._step:
            return None
        return TrackedFace(int(track_id), tag.candidate.box, tag.candidate.score)


def _corners(candidate: FaceCandidate) -> npt.NDArray[np.float64]:
    box = candidate.box
    return np.array([[box.left, box.top], [box.right, box.bottom]], dtype=np.float64)


def create_tracker(config: TrackerConfig) -> FaceTracker:
    """The tracker the agent uses."""
    return NorfairTracker(config)
