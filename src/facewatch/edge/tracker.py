"""Tracking: the same face across frames gets the same track id (norfair underneath).

``FaceTracker`` is the interface the agent uses; ``NorfairTracker`` implements it with
norfair's Kalman filter and a distance made for faces sampled at a few frames a second. The
boxes handed on are the detector's own boxes of the current frame, never predictions.

Why not IoU: at 6 fps a pedestrian close to the camera moves more than a face width between
two processed frames, so consecutive boxes often do not overlap at all, and a low-threshold
detector's boxes jitter in scale. On the street clip (facenet_pytorch video.mp4) IoU
matching cut the people into 19 tracks, this distance into 11.

When only parts of a frame were searched (motion regions), a track whose face lies outside
them is *carried*: it is neither moved nor counted as missed, since nothing there changed.
Carried faces are listed apart (``carried``): no new shot is cut from a box not searched.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from facewatch.edge.config import TrackerConfig
from facewatch.edge.types import FaceCandidate, TrackedFace, TrackUpdate
from facewatch.errors import ConfigurationError
from facewatch.types import Box

logger = logging.getLogger(__name__)


class FaceTracker(ABC):
    """Gives each candidate of a frame a track id and says when tracks end."""

    carried: list[TrackedFace]
    """After ``update``: the live tracks outside the searched regions, at their last box."""

    @abstractmethod
    def update(
        self, candidates: Sequence[FaceCandidate], searched: Sequence[Box] | None = None
    ) -> TrackUpdate:
        """The candidates of the next processed frame, matched to tracks.

        ``searched``: the regions the candidates were looked for in (None: everywhere);
        tracks outside them are carried rather than missed.
        """

    @abstractmethod
    def finish(self) -> list[int]:
        """End every live track (the source ended); their ids."""


@dataclass(frozen=True, slots=True)
class _Tag:
    """What the agent attaches to each norfair detection to find it again."""

    step: int
    candidate: FaceCandidate
    carried: bool = False


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
        # norfair warns that scalar distances are slow; with a handful of faces a frame
        # the cost is microseconds, so the warning is held back while the tracker is built.
        norfair_logger = logging.getLogger(Tracker.__module__)
        level = norfair_logger.level
        norfair_logger.setLevel(logging.ERROR)
        try:
            self._tracker = Tracker(
                distance_function=FaceDistance(config.max_scale_change),
                distance_threshold=config.max_offset,
                hit_counter_max=config.max_missed,
                initialization_delay=0,
            )
        finally:
            norfair_logger.setLevel(level)
        self._step = 0
        self._live: set[int] = set()
        self.carried = []

    def update(
        self, candidates: Sequence[FaceCandidate], searched: Sequence[Box] | None = None
    ) -> TrackUpdate:
        self._step += 1
        detections = [
            self._detection(_corners(candidate), data=_Tag(self._step, candidate))
            for candidate in candidates
        ]
        if searched is not None:
            detections += self._carried(searched)
        active = self._tracker.update(detections=detections)
        faces = [face for obj in active if (face := self._matched(obj)) is not None]
        self.carried = [face for obj in active if (face := self._matched(obj, True)) is not None]
        alive = {obj.id for obj in self._tracker.tracked_objects if obj.id is not None}
        ended = sorted(self._live - alive)
        self._live = (self._live & alive) | {face.track_id for face in faces}
        return TrackUpdate(faces=sorted(faces, key=lambda f: f.track_id), ended=ended)

    def finish(self) -> list[int]:
        ended = sorted(self._live)
        self._live.clear()
        return ended

    def _carried(self, searched: Sequence[Box]) -> list[Any]:
        """A detection at its last box for each live track whose centre no region holds."""
        detections = []
        for obj in self._tracker.tracked_objects:
            tag = getattr(getattr(obj, "last_detection", None), "data", None)
            if obj.id is None or not isinstance(tag, _Tag):
                continue
            if not any(_holds(region, tag.candidate.box) for region in searched):
                carried = _Tag(self._step, tag.candidate, carried=True)
                detections.append(self._detection(_corners(tag.candidate), data=carried))
        return detections

    def _matched(self, obj: object, carried: bool = False) -> TrackedFace | None:
        """The tracked face if ``obj`` was matched to a candidate of this very frame (or,
        with ``carried``, to its own carried box)."""
        track_id = getattr(obj, "id", None)
        detection = getattr(obj, "last_detection", None)
        tag = getattr(detection, "data", None)
        if track_id is None or not isinstance(tag, _Tag) or tag.step != self._step:
            return None
        if tag.carried != carried:
            return None
        return TrackedFace(int(track_id), tag.candidate.box, tag.candidate.score)


class FaceDistance:
    """Centre offset between a face and a track, in face widths; ``inf`` when their sizes
    differ by more than ``max_scale_change``.

    The offset is taken to the nearer of the track's predicted box (the Kalman estimate,
    good once the track has a velocity) and its last detected box (good for a new track or
    one whose estimate drifted while the face was missed).
    """

    def __init__(self, max_scale_change: float) -> None:
        self.max_scale_change = max_scale_change

    def __call__(self, detection: Any, tracked: Any) -> float:
        box = np.asarray(detection.points, dtype=np.float64)
        last = np.asarray(tracked.last_detection.points, dtype=np.float64)
        size, last_size = _side(box), _side(last)
        if max(size, last_size) > self.max_scale_change * max(min(size, last_size), 1.0):
            return math.inf
        centre = box.mean(axis=0)
        predicted = np.asarray(tracked.estimate, dtype=np.float64).mean(axis=0)
        offset = min(np.linalg.norm(centre - predicted), np.linalg.norm(centre - last.mean(axis=0)))
        return float(offset) / max(size, 1.0)


def _holds(region: Box, box: Box) -> bool:
    """Whether ``box``'s centre lies in ``region``."""
    x, y = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    return region.left <= x < region.right and region.top <= y < region.bottom


def _side(corners: npt.NDArray[np.float64]) -> float:
    """The longer side of a box given as [[left, top], [right, bottom]]."""
    return float(np.max(corners[1] - corners[0]))


def _corners(candidate: FaceCandidate) -> npt.NDArray[np.float64]:
    box = candidate.box
    return np.array([[box.left, box.top], [box.right, box.bottom]], dtype=np.float64)


def create_tracker(config: TrackerConfig) -> FaceTracker:
    """The tracker the agent uses."""
    return NorfairTracker(config)
