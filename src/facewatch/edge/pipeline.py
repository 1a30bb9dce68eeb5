"""One camera's stages for one frame: gate, detect, track, choose shots, encode, queue."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from facewatch.edge.bestshot import ShotMaker, ShotPolicy
from facewatch.edge.config import CropConfig, Mode
from facewatch.edge.detection import CandidateDetector
from facewatch.edge.encoder import CropEncoder, ShotEmbedder
from facewatch.edge.metrics import CameraMetrics
from facewatch.edge.motion import MotionGate
from facewatch.edge.outbox import ItemKind, OutboxItem
from facewatch.edge.tracker import FaceTracker
from facewatch.edge.types import Dispatch, Frame

logger = logging.getLogger(__name__)

EMBEDDING_MEDIA_TYPE = "application/x-float16-le"
"""Embeddings travel as little-endian float16: half the bytes of float32. dlib descriptors
lie within +-0.5; on the knn_examples faces float16 moved distances by at most 3.3e-4."""


class ItemSink(Protocol):
    """Where a pipeline puts its items: the outbox, or a folder (``facewatch edge extract``)."""

    def put(self, item: OutboxItem) -> bool:
        """Keep ``item``; False if it was dropped."""


@dataclass(slots=True)
class Stages:
    """The per-camera stage objects (each camera has its own detector, tracker and policy)."""

    detector: CandidateDetector
    tracker: FaceTracker
    policy: ShotPolicy
    shots: ShotMaker
    encoder: CropEncoder
    embedder: ShotEmbedder | None = None
    """Set in embeddings mode."""
    gate: MotionGate | None = None


class CameraPipeline:
    """Turns a camera's sampled frames into outbox items."""

    def __init__(
        self,
        camera_id: str,
        stages: Stages,
        outbox: ItemSink,
        metrics: CameraMetrics,
        *,
        mode: Mode,
        crops: CropConfig,
        run_id: str,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.camera_id = camera_id
        self.stages = stages
        self.outbox = outbox
        self.metrics = metrics
        self.mode = mode
        self.crops = crops
        self.run_id = run_id
        self._on_queued = on_queued
        self._known_tracks: set[int] = set()

    def process(self, frame: Frame) -> None:
        """Run one sampled frame through every stage."""
        gate = self.stages.gate
        if gate is not None and not gate.moved(frame.image, frame.position):
            self.metrics.add(frames_still=1)
            return
        started = time.perf_counter()
        candidates = self.stages.detector.detect(frame.image)
        update = self.stages.tracker.update(candidates)
        shots = self.stages.shots.shots(frame, update.faces)
        dispatches = self.stages.policy.observe(shots) + self.stages.policy.end(update.ended)
        new_tracks = {face.track_id for face in update.faces} - self._known_tracks
        self._known_tracks |= new_tracks
        self._known_tracks -= set(update.ended)
        self.metrics.add(
            frames_processed=1,
            detect_seconds=time.perf_counter() - started,
            candidates=len(candidates),
            tracks=len(new_tracks),
        )
        self._queue_all(dispatches)

    def finish(self) -> None:
        """The source ended: end every track, sending their last best shots."""
        self._queue_all(self.stages.policy.end(self.stages.tracker.finish()))
        self._known_tracks.clear()

    def _queue_all(self, dispatches: list[Dispatch]) -> None:
        if not dispatches:
            return
        queued = sum(self.outbox.put(self._item(dispatch)) for dispatch in dispatches)
        self.metrics.add(shots=len(dispatches), queued=queued, dropped=len(dispatches) - queued)
        self._on_queued()

    def _item(self, dispatch: Dispatch) -> OutboxItem:
        shot = dispatch.shot
        key = idempotency_key(self.camera_id, self.run_id, shot.track_id, dispatch.sequence)
        track = f"{self.run_id}-{shot.track_id}"
        if self.stages.embedder is None:
            encoded = self.stages.encoder.encode(shot.crop)
            return OutboxItem(
                key, ItemKind.CROP, self.camera_id, shot.captured_at, encoded.data,
                encoded.media_type, track_id=track,
            )  # fmt: skip
        embedding = self.stages.embedder.embed(shot)
        fields = {
            "model": embedding.model,
            "quality": f"{shot.quality.score:.4f}",
            "box": ",".join(str(v) for v in shot.box.as_list()),
        }
        return OutboxItem(
            key, ItemKind.EMBEDDING, self.camera_id, shot.captured_at,
            np.asarray(embedding.vector, dtype="<f2").tobytes(), EMBEDDING_MEDIA_TYPE,
            track_id=track, fields=fields, thumbnail=self._thumbnail(dispatch),
        )  # fmt: skip

    def _thumbnail(self, dispatch: Dispatch) -> bytes | None:
        if self.crops.thumbnail_size <= 0:
            return None
        return self.stages.encoder.encode(dispatch.shot.crop, self.crops.thumbnail_size).data


def idempotency_key(camera_id: str, run_id: str, track_id: int, sequence: int) -> str:
    """``camera:run:track:shot``: unique per shot, the same on every retry of it."""
    return f"{camera_id}:{run_id}:{track_id}:{sequence}"


def is_first_shot(key: str) -> bool:
    """Whether the item with this key is the first shot of its track (a live alert)."""
    return key.rsplit(":", 1)[-1] == "0"
