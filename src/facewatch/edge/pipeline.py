"""One camera's stages for one frame: gate, detect, track, choose shots, encode, queue."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from facewatch.edge.bestshot import ShotMaker, ShotPolicy, shot_verdict
from facewatch.edge.config import CropConfig, Mode
from facewatch.edge.detection import CandidateDetector
from facewatch.edge.encoder import CropEncoder, ShotEmbedder
from facewatch.edge.metrics import CameraMetrics
from facewatch.edge.motion import MotionGate
from facewatch.edge.outbox import ItemKind, OutboxItem
from facewatch.edge.recognition import LocalMatch, LocalRecognizer
from facewatch.edge.tracker import FaceTracker
from facewatch.edge.types import Dispatch, FaceEmbedding, Frame, Shot, TrackedFace
from facewatch.wire import encode_vector, image_media_type

logger = logging.getLogger(__name__)


class ItemSink(Protocol):
    """Where a pipeline puts its items: the outbox, or a folder (``facewatch edge extract``)."""

    def put(self, item: OutboxItem) -> bool:
        """Keep ``item``; False if it was dropped."""


class PipelineObserver(Protocol):
    """Who watches a camera's pipeline: ``--record``/``--show`` and the local alerts."""

    def frame_done(self, frame: Frame, faces: list[TrackedFace]) -> None:
        """A sampled frame went through (``faces``: the tracked faces now on it)."""

    def recognised(self, shot: Shot, verdict: LocalMatch) -> None:
        """Mode local: the on-site verdict for a shot about to be queued."""

    def track_ended(self, track_id: int) -> None:
        """A track ended."""


@dataclass(slots=True)
class Stages:
    """The per-camera stage objects (each camera has its own detector, tracker and policy)."""

    detector: CandidateDetector
    tracker: FaceTracker
    policy: ShotPolicy
    shots: ShotMaker
    encoder: CropEncoder
    embedder: ShotEmbedder | None = None
    """Set in modes embeddings and local."""
    gate: MotionGate | None = None
    recognizer: LocalRecognizer | None = None
    """Set in mode local."""


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
        observer: PipelineObserver | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.stages = stages
        self.outbox = outbox
        self.metrics = metrics
        self.mode = mode
        self.crops = crops
        self.run_id = run_id
        self._on_queued = on_queued
        self.observer = observer
        self._crops_only = False
        self._known_tracks: set[int] = set()
        self._faces: list[TrackedFace] = []

    def process(self, frame: Frame) -> None:
        """Run one sampled frame through every stage.

        With a motion gate, a frame where nothing moved skips detection and tracking (its
        tracks are carried as they were); one where something moved is searched only
        there, except for the gate's periodic whole-frame pass.
        """
        gate = self.stages.gate
        motion = gate.check(frame.image, frame.position) if gate is not None else None
        if motion is not None and not motion.searched:
            self.metrics.add(frames_still=1)
            if self.observer is not None:
                self.observer.frame_done(frame, self._faces)
            return
        started = time.perf_counter()
        regions = None if motion is None or motion.full else motion.regions
        candidates = self.stages.detector.detect(frame.image, regions)
        update = self.stages.tracker.update(candidates, regions)
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
        self._faces = sorted(update.faces + self.stages.tracker.carried, key=lambda f: f.track_id)
        self._queue_all(dispatches)
        if self.observer is not None:
            self.observer.frame_done(frame, self._faces)
            for track_id in update.ended:
                self.observer.track_ended(track_id)

    def finish(self) -> None:
        """The source ended: end every track, sending their last best shots."""
        ended = self.stages.tracker.finish()
        self._queue_all(self.stages.policy.end(ended))
        self._known_tracks.clear()
        self._faces = []
        if self.observer is not None:
            for track_id in ended:
                self.observer.track_ended(track_id)

    def _queue_all(self, dispatches: list[Dispatch]) -> None:
        if not dispatches:
            return
        embedder = None if self._crops_only else self.stages.embedder
        embeddings = [embedder.embed(d.shot) for d in dispatches] if embedder else []
        if self.stages.recognizer is not None and embeddings:
            self._recognise(dispatches, embeddings)
        items = [
            self._item(dispatch, embeddings[n] if embeddings else None)
            for n, dispatch in enumerate(dispatches)
        ]
        queued = sum(self.outbox.put(item) for item in items)
        self.metrics.add(shots=len(dispatches), queued=queued, dropped=len(dispatches) - queued)
        self._on_queued()

    def _recognise(self, dispatches: list[Dispatch], embeddings: list[FaceEmbedding]) -> None:
        """Mode local: decide on site, frame by frame (two faces of one frame are never
        given one identity), and tell the observer (alerts, overlay)."""
        assert self.stages.recognizer is not None
        by_frame: dict[int, list[int]] = {}
        for n, dispatch in enumerate(dispatches):
            by_frame.setdefault(dispatch.shot.frame_index, []).append(n)
        for members in by_frame.values():
            verdicts = self.stages.recognizer.recognise([embeddings[n].vector for n in members])
            if verdicts is None:  # no gallery copy yet: the server decides alone
                continue
            self.metrics.add(recognised_on_site=len(verdicts))
            for n, verdict in zip(members, verdicts, strict=True):
                dispatch = dispatches[n]
                self.stages.policy.answered(
                    dispatch.shot.track_id,
                    dispatch.sequence,
                    shot_verdict([verdict.match.status.value]),
                )
                if self.observer is not None:
                    self.observer.recognised(dispatch.shot, verdict)

    def send_crops(self) -> None:
        """From now on queue crops, not embeddings (the server refused this site's model)."""
        self._crops_only = True

    def _item(self, dispatch: Dispatch, embedding: FaceEmbedding | None) -> OutboxItem:
        shot = dispatch.shot
        key = idempotency_key(self.camera_id, self.run_id, shot.track_id, dispatch.sequence)
        track = f"{self.run_id}-{shot.track_id}"
        if embedding is None:
            encoded = self.stages.encoder.encode(shot.crop)
            # Where the face lies in the crop as sent: the server checks there only.
            face = shot.face_in_crop.scaled(encoded.width / shot.crop.shape[1])
            return OutboxItem(
                key, ItemKind.CROP, self.camera_id, shot.captured_at, encoded.data,
                encoded.media_type, track_id=track, box=face,
            )  # fmt: skip
        return OutboxItem(
            key, ItemKind.EMBEDDING, self.camera_id, shot.captured_at,
            *encode_vector(embedding.vector, embedding.model),
            track_id=track, box=shot.box, model=embedding.model,
            quality=shot.quality.score, thumbnail=self._thumbnail(dispatch),
        )  # fmt: skip

    def _thumbnail(self, dispatch: Dispatch) -> bytes | None:
        if self.crops.thumbnail_size <= 0 or self.mode == "local":  # local: no image leaves
            return None
        return self.stages.encoder.encode(dispatch.shot.crop, self.crops.thumbnail_size).data


def idempotency_key(camera_id: str, run_id: str, track_id: int, sequence: int) -> str:
    """``camera:run:track:shot``: unique per shot, the same on every retry of it."""
    return f"{camera_id}:{run_id}:{track_id}:{sequence}"


def is_first_shot(key: str) -> bool:
    """Whether the item with this key is the first shot of its track (a live alert)."""
    return key.rsplit(":", 1)[-1] == "0"


def shot_sequence(key: str) -> int:
    """The number of the shot within its track that an idempotency key names (-1: none)."""
    last = key.rsplit(":", 1)[-1]
    return int(last) if last.isdigit() else -1


def as_crop(item: OutboxItem) -> OutboxItem | None:
    """An embedding item sent again as a crop: its thumbnail, under the same key (the server
    refused the embedding, so the key stored nothing); None without a thumbnail."""
    if item.kind is not ItemKind.EMBEDDING or not item.thumbnail:
        return None
    return replace(
        item,
        kind=ItemKind.CROP,
        payload=item.thumbnail,
        media_type=image_media_type(item.thumbnail),
        box=None,
        model=None,
        quality=0.0,
        thumbnail=None,
    )
