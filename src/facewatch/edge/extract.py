"""``facewatch edge extract``: the crops the agent would send, saved to a folder instead.

The same stages as ``facewatch edge run`` (sampler, candidate detector, tracker, shot
policy, crop encoder) with a folder in place of the outbox, for checking what an edge sends
or for building a data set from a video. Files are named ``<track>-<shot>.jpg``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from facewatch.edge.bestshot import ShotMaker, create_policy
from facewatch.edge.config import BestShotConfig, CropConfig, DetectorConfig, Policy, TrackerConfig
from facewatch.edge.detection import create_candidate_detector
from facewatch.edge.encoder import CropEncoder
from facewatch.edge.metrics import CameraCounts, CameraMetrics
from facewatch.edge.outbox import OutboxItem
from facewatch.edge.pipeline import CameraPipeline, Stages
from facewatch.edge.sampler import FrameSampler
from facewatch.edge.sources import VideoFileSource
from facewatch.edge.tracker import create_tracker
from facewatch.errors import ConfigurationError
from facewatch.vision.landmarks import Landmarker

logger = logging.getLogger(__name__)

_SUFFIXES = {"image/jpeg": ".jpg", "image/webp": ".webp"}


class FolderSink:
    """Writes each crop to ``folder`` as ``<track>-<shot>.<ext>``."""

    def __init__(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create {folder}: {exc.strerror or exc}") from exc
        self.folder = folder
        self.written: list[Path] = []

    def put(self, item: OutboxItem) -> bool:
        # The key is camera:run:track:shot; the folder is this run's alone.
        track, shot = item.idempotency_key.rsplit(":", 2)[1:]
        path = self.folder / f"{int(track):05d}-{shot}{_SUFFIXES.get(item.media_type, '.bin')}"
        path.write_bytes(item.payload)
        self.written.append(path)
        return True


@dataclass(frozen=True, slots=True)
class ExtractSettings:
    """What ``extract`` takes from the command line (the rest: edge.yaml defaults)."""

    fps: float = 6.0
    policy: Policy = "best"
    crops: CropConfig = field(default_factory=CropConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)


def extract(video: Path, out: Path, settings: ExtractSettings) -> tuple[list[Path], CameraCounts]:
    """Run ``video`` through the edge stages and save the chosen crops in ``out``."""
    source = VideoFileSource(video, "extract")
    sink = FolderSink(out)
    metrics = CameraMetrics("extract")
    stages = Stages(
        detector=create_candidate_detector(settings.detector),
        tracker=create_tracker(TrackerConfig()),
        policy=create_policy(settings.policy, BestShotConfig()),
        shots=ShotMaker(
            Landmarker(), margin=settings.crops.margin, min_size=settings.crops.min_size
        ),
        encoder=CropEncoder(settings.crops),
    )
    pipeline = CameraPipeline(
        "extract", stages, sink, metrics, mode="crops", crops=settings.crops, run_id="x"
    )
    sampler = FrameSampler(settings.fps)
    for frame in source.frames(keep=sampler.keep):
        metrics.add(frames_sampled=1)
        pipeline.process(frame)
    pipeline.finish()
    return sink.written, metrics.snapshot()
