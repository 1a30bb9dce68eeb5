"""The edge agent: one pipeline thread per camera, one uplink thread, one durable outbox.

Live sources (webcams, streams) are read by their own capture thread into a one-frame slot:
when processing falls behind, the older frame is dropped and counted rather than queued, so
the agent always works on the newest frame. File sources are read at the pace of processing
and never drop a sampled frame. When every source is a file, the agent stops at their end,
after the outbox has been delivered or ``drain_timeout`` has passed.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from facewatch.edge.alerts import LocalAlerts
from facewatch.edge.bestshot import ShotMaker, create_policy, shot_verdict
from facewatch.edge.config import CameraConfig, EdgeConfig
from facewatch.edge.detection import create_candidate_detector
from facewatch.edge.encoder import CropEncoder, ShotEmbedder
from facewatch.edge.gallery_copy import GalleryCopy, GallerySync
from facewatch.edge.health import (
    CameraInfo,
    ErrorLog,
    FrameTap,
    HealthClient,
    HealthMonitor,
    HealthReporter,
)
from facewatch.edge.metrics import CameraCounts, CameraMetrics, summary_line
from facewatch.edge.motion import create_motion_gate
from facewatch.edge.observer import CameraObserver
from facewatch.edge.outbox import Outbox, OutboxItem, QueuedItem
from facewatch.edge.overlay import Display, FrameRecorder, TrackResult, check_display
from facewatch.edge.pipeline import (
    CameraPipeline,
    Stages,
    as_crop,
    is_first_shot,
    shot_sequence,
)
from facewatch.edge.recognition import LocalRecognizer
from facewatch.edge.sampler import FrameSampler
from facewatch.edge.sources import FrameSource, open_source
from facewatch.edge.tracker import create_tracker
from facewatch.edge.types import Frame
from facewatch.edge.uplink import Delivery, DeliveryStatus, Uplink, UplinkWorker
from facewatch.errors import FacewatchError
from facewatch.vision.embedders import Embedder
from facewatch.vision.embedders.factory import MODEL_SPECS, create_embedder_for_model
from facewatch.vision.landmarks import Landmarker

logger = logging.getLogger(__name__)

SourceFactory = Callable[[CameraConfig], FrameSource]


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did, per camera, and what it left in the outbox."""

    cameras: dict[str, CameraCounts]
    outbox_left: int
    dropped: int = 0
    """Items the outbox dropped over its lifetime (all runs)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Cameras that stopped on an error, and why."""


@dataclass(slots=True)
class _Camera:
    config: CameraConfig
    source: FrameSource
    pipeline: CameraPipeline
    metrics: CameraMetrics
    observer: CameraObserver
    thread: threading.Thread | None = None
    error: BaseException | None = field(default=None)


_EMBEDDER_MODELS = {"edgeface": "edgeface_xs_int8", "dlib": "dlib_resnet_v1"}
"""The model id each ``EdgeConfig.embedder`` name makes."""


class EdgeAgent:
    """Runs every camera of an ``EdgeConfig`` until the files end or ``stop`` is called."""

    def __init__(
        self,
        config: EdgeConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        source_factory: SourceFactory | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.config = config
        self.run_id = secrets.token_hex(4)
        self._stop = threading.Event()
        self._source_factory = source_factory or (
            lambda cam: open_source(cam.source, cam.id, realtime=cam.realtime)
        )
        self._landmarker = Landmarker()
        if config.show:
            check_display()  # fail fast, before opening anything
        self.display = Display() if config.show else None
        self.uplink = Uplink(
            config.server,
            config.api_key,
            edge_id=config.edge_id,
            timeout=config.uplink.timeout,
            verify_tls=config.uplink.verify_tls,
            ca_file=config.uplink.ca_file,
            transport=transport,
            outbox_depth=self._outbox_depth,
        )
        self._embedder = embedder
        if config.mode != "crops" and embedder is None:
            self._embedder = create_embedder_for_model(self._model_to_embed(), threads=1)
        self._mismatch_reported = False
        local = config.mode == "local"
        self.recognizer = (
            LocalRecognizer(self._shot_embedder().embedder.model_id) if local else None
        )
        self.alerts = LocalAlerts(config.local.alerts) if local else None
        self.outbox = Outbox(
            config.outbox.path, max_bytes=config.outbox.max_bytes, drop=config.outbox.drop
        )
        self._cameras: dict[str, _Camera] = {}
        try:
            for cam in config.cameras:
                self._cameras[cam.id] = self._camera(cam)
        except BaseException:
            self._close_observers()
            self.outbox.close()
            raise
        self.worker = UplinkWorker(
            self.outbox,
            self.uplink,
            batch_size=config.uplink.batch_size,
            backoff_initial=config.uplink.backoff_initial,
            backoff_max=config.uplink.backoff_max,
            heartbeat_interval=config.uplink.heartbeat_interval,
            listener=self._delivered,
            on_model_mismatch=self._model_mismatch,
        )
        self.errors = ErrorLog()
        self.frames = FrameTap(config.snapshots.enabled)  # keeps no frame unless stills are on
        self.health = self._health_reporter(transport)
        self.gallery_sync = (
            GallerySync(
                self.uplink,
                config.local.gallery_path,
                config.local.sync_interval,
                self.recognizer.use,
            )
            if self.recognizer is not None
            else None
        )

    # --- running -----------------------------------------------------------------------
    def run(self) -> RunSummary:
        """Process every camera; returns when all finite sources ended (or on ``stop``)."""
        if self.outbox.depth:
            logger.info("outbox holds %s items from an earlier run", self.outbox.depth)
        self.worker.start()
        self.health.start()
        try:
            self._load_models()
            if self.gallery_sync is not None:
                self.gallery_sync.start()  # a copy before the first frame, if there is one
            for camera in self._cameras.values():
                camera.thread = threading.Thread(
                    target=self._camera_loop, args=(camera,), name=f"edge-{camera.config.id}"
                )
                camera.thread.start()
            self._wait_for_cameras()
            self._drain()
        finally:
            self._shutdown()
        try:
            return self.summary()
        finally:
            self.outbox.close()

    def _load_models(self) -> None:
        """Load every model before the first frame: loading on it (the HOG detector alone
        takes ~0.3 s) would delay the alert for whoever is in view when the agent starts."""
        started = time.monotonic()
        for camera in self._cameras.values():
            stages = camera.pipeline.stages
            try:
                self._landmarker.load()
                stages.detector.load()
                if stages.embedder is not None:
                    stages.embedder.load()
            except FacewatchError:
                continue  # the camera's thread meets the same error and stops with it
        logger.info("models loaded in %.2f s", time.monotonic() - started)

    def stop(self) -> None:
        """Stop reading sources (from any thread or a signal handler); ``run`` then drains."""
        self._stop.set()
        for camera in self._cameras.values():
            camera.source.stop()

    def summary(self) -> RunSummary:
        """The counters so far and the outbox depth."""
        return RunSummary(
            cameras={cid: cam.metrics.snapshot() for cid, cam in self._cameras.items()},
            outbox_left=self.outbox.depth,
            dropped=self.outbox.counter("dropped"),
            failed={
                cid: _reason(cam.error)
                for cid, cam in self._cameras.items()
                if cam.error is not None
            },
        )

    def track_results(self, camera_id: str) -> dict[int, TrackResult]:
        """The result heard so far for each track of a camera (what ``--record`` colours)."""
        return self._cameras[camera_id].observer.results.snapshot()

    def log_metrics(self) -> None:
        depth = self.outbox.depth
        for camera_id, camera in self._cameras.items():
            logger.info("%s", summary_line(camera_id, camera.metrics.snapshot(), depth))

    # --- building ----------------------------------------------------------------------
    def _camera(self, cam: CameraConfig) -> _Camera:
        metrics = CameraMetrics(cam.id)
        record = self.config.record_path(cam)
        observer = CameraObserver(
            cam.id,
            metrics,
            edge_id=self.config.edge_id,
            run_id=self.run_id,
            recorder=FrameRecorder(record, self.config.camera_fps(cam)) if record else None,
            display=self.display,
            alerts=self.alerts,
        )
        pipeline = CameraPipeline(
            cam.id,
            self._stages(cam),
            self.outbox,
            metrics,
            mode=self.config.mode,
            crops=self.config.crops,
            run_id=self.run_id,
            on_queued=lambda: self.worker.notify(),
            observer=observer,
        )
        return _Camera(cam, self._source_factory(cam), pipeline, metrics, observer)

    def _stages(self, cam: CameraConfig) -> Stages:
        config = self.config
        motion = cam.motion
        return Stages(
            detector=create_candidate_detector(cam.detector),
            tracker=create_tracker(config.tracker),
            policy=create_policy(config.policy, config.best_shot),
            shots=ShotMaker(
                self._landmarker,
                margin=config.crops.margin,
                min_size=config.crops.min_size,
                align=self._embedder.align if self._embedder is not None else None,
            ),
            encoder=CropEncoder(config.crops),
            embedder=self._shot_embedder() if config.mode != "crops" else None,
            gate=create_motion_gate(motion),
            recognizer=self.recognizer,
        )

    def _health_reporter(self, transport: httpx.BaseTransport | None) -> HealthReporter:
        config = self.config
        cameras = {
            cid: CameraInfo(camera.config.detector.kind, camera.metrics)
            for cid, camera in self._cameras.items()
        }
        monitor = HealthMonitor(
            config.edge_id,
            cameras,
            self.outbox,
            self.errors,
            interval=config.health.interval,
            embedder=lambda: self._embedder.model_id if self._embedder is not None else None,
        )
        client = HealthClient(
            config.server,
            config.api_key,
            edge_id=config.edge_id,
            verify_tls=config.uplink.verify_tls,
            ca_file=config.uplink.ca_file,
            transport=transport,
        )
        return HealthReporter(monitor, client, self.frames, config.health, config.snapshots)

    def _shot_embedder(self) -> ShotEmbedder:
        if self._embedder is None:
            self._embedder = create_embedder_for_model(self._model_to_embed(), threads=1)
        return ShotEmbedder(self._embedder)

    def _outbox_depth(self) -> int:
        outbox: Outbox | None = getattr(self, "outbox", None)  # the uplink is made first
        return 0 if outbox is None else outbox.depth

    def _model_to_embed(self) -> str:
        """The model id to embed with: as configured, else the server's (``auto``)."""
        chosen = self.config.embedder
        if chosen != "auto":
            return _EMBEDDER_MODELS[chosen]
        served = self.uplink.server_model()
        if served is not None and served in MODEL_SPECS:
            logger.info("embedding with %s, the model the server matches with", served)
            return served
        saved = (
            GalleryCopy.load(self.config.local.gallery_path)
            if self.config.mode == "local"
            else None
        )
        copied = saved.model_id if saved is not None else None
        if copied is not None and copied in MODEL_SPECS:
            logger.info("server unreachable: embedding with %s, the gallery copy's", copied)
            return copied
        default = next(iter(MODEL_SPECS))
        logger.warning("server unreachable and no gallery copy: embedding with %s", default)
        return default

    def _model_mismatch(self, item: OutboxItem, detail: str) -> OutboxItem | None:
        """The server refused an embedding of this agent's model: send crops from now on,
        and this item's thumbnail as a crop if it has one (else it is rejected, listed)."""
        if not self._mismatch_reported:
            self._mismatch_reported = True
            logger.error(
                "the server refuses this agent's embeddings (%s): sending crops from now on; "
                "restart the agent to embed with the server's model",
                detail,
            )
        for camera in self._cameras.values():
            camera.pipeline.send_crops()
        return as_crop(item)

    # --- threads -----------------------------------------------------------------------
    def _camera_loop(self, camera: _Camera) -> None:
        """The thread of one camera: frames through the pipeline until the source ends."""
        try:
            for frame in self._frames(camera):
                self.frames.offer(frame)
                camera.pipeline.process(frame)
            camera.pipeline.finish()
        except FacewatchError as exc:  # an expected failure (a file that is no video...)
            camera.error = exc
            self.errors.note(f"camera stopped: {exc.message}", camera.config.id)
            logger.error("camera %s stopped: %s", camera.config.id, exc.message)
        except Exception as exc:  # the thread boundary: the other cameras go on
            camera.error = exc
            self.errors.note(f"camera stopped: {_reason(exc)}", camera.config.id)
            logger.exception("camera %s stopped", camera.config.id)
        finally:
            camera.observer.close()

    def _frames(self, camera: _Camera) -> Iterator[Frame]:
        source, metrics = camera.source, camera.metrics
        sampler = FrameSampler(self.config.camera_fps(camera.config))

        def keep(position: float) -> bool:
            kept = sampler.keep(position)
            metrics.add(frames_in=1, frames_sampled=int(kept))
            return kept

        if not source.sampled:
            return _counted(source.frames(), metrics)
        if source.live:
            return _latest(source.frames(keep), metrics, self._stop)
        return source.frames(keep)

    def _wait_for_cameras(self) -> None:
        """Until every camera thread ends (or a stop), logging the metrics now and then."""
        threads = [cam.thread for cam in self._cameras.values() if cam.thread is not None]
        next_log = time.monotonic() + self.config.metrics_interval
        while any(thread.is_alive() for thread in threads) and not self._stop.is_set():
            for thread in threads:
                thread.join(timeout=0.1)
                if self.display is not None:
                    self.display.pump()
            if time.monotonic() >= next_log:
                self.log_metrics()
                next_log += self.config.metrics_interval
        for thread in threads:
            thread.join()

    def _drain(self) -> None:
        left = self.worker.drain(self.config.drain_timeout)
        if left:
            logger.warning(
                "%s items not delivered yet: they stay in %s for the next run",
                left,
                self.outbox.path,
            )

    def _shutdown(self) -> None:
        self.stop()
        for camera in self._cameras.values():
            if camera.thread is not None:
                camera.thread.join()
        self.worker.stop()
        self.health.stop()  # a last heartbeat: the figures of the whole run
        if self.gallery_sync is not None:
            self.gallery_sync.stop()
        if not self.worker.failing:
            self.uplink.heartbeat()  # the server's /metrics learns the outbox is now empty
        self.uplink.close()
        self.health.client.close()
        self._close_observers()
        self.log_metrics()

    def _close_observers(self) -> None:
        for camera in self._cameras.values():
            camera.observer.close()
        if self.alerts is not None:
            self.alerts.close()
        if self.display is not None:
            self.display.close()

    def _delivered(self, queued: QueuedItem, delivery: Delivery) -> None:
        camera = self._cameras.get(queued.item.camera_id)
        if camera is None:  # an item of a camera no longer configured
            return
        metrics = camera.metrics
        if delivery.status is DeliveryStatus.DELIVERED:
            item = queued.item
            track = self._own_track(item.track_id)
            if track is not None and self.config.mode != "local":  # local: its own verdicts
                camera.observer.answered(track, delivery.results)
                verdict = shot_verdict(result.status for result in delivery.results)
                camera.pipeline.stages.policy.answered(
                    track, shot_sequence(item.idempotency_key), verdict
                )
            metrics.add(
                sent=1,
                replayed=int(delivery.replayed),
                payload_bytes=len(item.payload) + len(item.thumbnail or b""),
                request_bytes=delivery.request_bytes,
                wire_bytes=delivery.wire_bytes,
                faces_stored=delivery.faces,
            )
            if is_first_shot(item.idempotency_key):
                waited = max(time.time() - queued.queued_at, 0.0)
                metrics.add(first_shots=1, first_shot_seconds=waited)
                metrics.peak(first_shot_seconds_max=waited)
        elif delivery.status is DeliveryStatus.REJECTED:
            metrics.add(rejected=1)
            self.errors.note(f"item rejected by the server: {delivery.detail}")
        else:
            metrics.add(failed_attempts=1)
            self.errors.note(f"delivery failed, will retry: {delivery.detail}")

    def _own_track(self, track_id: str | None) -> int | None:
        """The tracker's id of an item queued by this run (items of earlier runs: None)."""
        prefix = f"{self.run_id}-"
        if track_id is None or not track_id.startswith(prefix):
            return None
        number = track_id.removeprefix(prefix)
        return int(number) if number.isdigit() else None


def _reason(error: BaseException) -> str:
    return (
        error.message if isinstance(error, FacewatchError) else f"{type(error).__name__}: {error}"
    )


def _counted(frames: Iterator[Frame], metrics: CameraMetrics) -> Iterator[Frame]:
    for frame in frames:
        metrics.add(frames_in=1, frames_sampled=1)
        yield frame


def _latest(
    frames: Iterator[Frame], metrics: CameraMetrics, stop: threading.Event
) -> Iterator[Frame]:
    """Read a live source in its own thread; hand on the newest frame, dropping older ones."""
    slot: list[Frame] = []
    ready = threading.Condition()
    done = threading.Event()

    def capture() -> None:
        try:
            for frame in frames:
                with ready:
                    if slot:
                        metrics.add(frames_dropped=1)
                        slot.clear()
                    slot.append(frame)
                    ready.notify()
        except Exception:  # the thread boundary: the camera ends, the agent goes on
            logger.exception("camera %s: capture failed", metrics.camera_id)
        finally:
            done.set()
            with ready:
                ready.notify()

    threading.Thread(target=capture, name=f"capture-{metrics.camera_id}", daemon=True).start()
    while True:
        with ready:
            while not slot and not done.is_set() and not stop.is_set():
                ready.wait(0.5)
            if not slot:
                return
            frame = slot.pop()
        yield frame
