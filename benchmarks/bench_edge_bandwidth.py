"""Edge bandwidth: bytes a camera sends to the server, policy ``best`` beside ``every-frame``.

The older design sent every detected face of every sampled frame (about 4.5 KB each) and
reported, on 10-minute street videos at 6 fps, a reduction against a 4 Mbps camera stream of
21.4x at 305 face images a minute, 8.7x at 865 and 4.3x at 1479. Facewatch's target: policy
``best`` at least 10x that factor at the same face density, and mode ``embeddings`` at least
100x less data than ``every-frame`` crops.

What runs: the agent's real stages (``CameraPipeline``: candidate detector, norfair tracker,
ShotMaker, policy, CropEncoder or the on-site embedder (``--embedder``: EdgeFace-XS int8, the
default, or dlib's ResNet), SQLite outbox) and its real ``Uplink``,
whose HTTP requests go to an ``httpx.MockTransport`` answering 201 (bytes are counted from
the requests themselves: request line, headers, multipart body; the wire figure adds TCP/IP
headers per 1448-byte segment, no TLS). Policies and modes run one after the other in the
same process on the same frames at the same fps.

Each clip is looped to ``--minutes`` (default 10) of video at ``--fps`` (default 6). Looping
is honest for bandwidth (each pass is a new set of people walking through: the positions
jump at the seam, so tracks end and start again) but repetitive, so detection results,
shots and embeddings of a source frame are computed once and reused on later passes; the
edge's CPU cost is measured separately (``--cost``), on fresh frames.

    python benchmarks/bench_edge_bandwidth.py                     # both clips, markdown
    python benchmarks/bench_edge_bandwidth.py --clips street --minutes 2
    python benchmarks/bench_edge_bandwidth.py --cost              # ms per frame per detector

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata); the ONNX detector of
the cost table from FACEWATCH_SHARED_MODELS (default ../shared/models), skipped if absent.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import REPO_ROOT, accept_edge_requests, fast_tmp, machine_line, testdata_dir
from facewatch.edge.bestshot import ShotMaker, create_policy
from facewatch.edge.config import (
    BestShotConfig,
    CropConfig,
    DetectorConfig,
    Mode,
    Policy,
    TrackerConfig,
)
from facewatch.edge.detection import CandidateDetector, create_candidate_detector
from facewatch.edge.encoder import CropEncoder, ShotEmbedder
from facewatch.edge.metrics import CameraMetrics
from facewatch.edge.outbox import Outbox
from facewatch.edge.pipeline import CameraPipeline, Stages
from facewatch.edge.sampler import FrameSampler
from facewatch.edge.tracker import create_tracker
from facewatch.edge.types import FaceCandidate, FaceEmbedding, Frame, Shot, TrackedFace
from facewatch.edge.uplink import Uplink
from facewatch.types import Box, RGBImage
from facewatch.vision.embedders.base import Embedder
from facewatch.vision.embedders.factory import create_embedder_for_model
from facewatch.vision.embedders.specs import DLIB_RESNET_V1, EDGEFACE_XS_INT8
from facewatch.vision.landmarks import Landmarker

CLIPS = {
    "street": "facenet_pytorch/examples/video.mp4",
    "hamilton": "face_recognition_examples/examples/short_hamilton_clip.mp4",
}
CAMERA_BYTES_PER_MINUTE = 4_000_000 / 8 * 60
"""A 4 Mbps camera stream, the older design's reference."""
OLD_DESIGN = [(305, 21.4), (865, 8.7), (1479, 4.3)]
"""(face images a minute, reduction factor against 4 Mbps) as the older design reported."""
OLD_BYTES_PER_FACE = 4500
_T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RUNS: list[tuple[Policy, Mode, int]] = [
    # (policy, mode, items per request): 1 is one request per face, as the older design sent.
    ("every-frame", "crops", 1),
    ("every-frame", "crops", 16),
    ("best", "crops", 1),
    ("best", "crops", 16),
    ("every-frame", "embeddings", 16),
    ("best", "embeddings", 16),
]


# --- a looped clip, with per-source-frame caches ------------------------------------------
@dataclass
class Clip:
    name: str
    path: Path
    fps: float
    frames: list[RGBImage]

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps

    @property
    def bytes_per_minute(self) -> float:
        return self.path.stat().st_size / self.seconds * 60


def load_clip(name: str, path: Path) -> Clip:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames: list[RGBImage] = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8))
    capture.release()
    return Clip(name, path, fps, frames)


def looped_frames(clip: Clip, minutes: float, fps: float) -> Iterator[Frame]:
    """The clip played over and over for ``minutes``, sampled at ``fps``; ``index`` counts
    source frames from the start of the run (``index % len(frames)`` is the clip frame)."""
    sampler = FrameSampler(fps)
    total = round(minutes * 60 * clip.fps)
    for index in range(total):
        position = index / clip.fps
        if sampler.keep(position):
            image = clip.frames[index % len(clip.frames)]
            yield Frame("bench", index, position, _T0 + timedelta(seconds=position), image)


class CachedDetector(CandidateDetector):
    """Detects each clip frame once; later passes reuse the boxes."""

    def __init__(self, inner: CandidateDetector, clip_length: int) -> None:
        super().__init__(inner.detector, inner.width)
        self._clip_length = clip_length
        self._cache: dict[int, list[FaceCandidate]] = {}
        self.current = 0

    def detect(self, image: RGBImage, regions: Sequence[Box] | None = None) -> list[FaceCandidate]:
        if regions is not None:  # motion gating is off here: every frame is searched whole
            return super().detect(image, regions)
        key = self.current % self._clip_length
        if key not in self._cache:
            self._cache[key] = super().detect(image)
        return self._cache[key]


class CachedShotMaker(ShotMaker):
    """Cuts and scores each (clip frame, box) once."""

    def __init__(self, inner: ShotMaker, clip_length: int) -> None:
        super().__init__(
            inner.landmarker, margin=inner.margin, min_size=inner.min_size, align=inner.align
        )
        self._clip_length = clip_length
        self._cache: dict[tuple[int, tuple[int, ...]], Shot] = {}

    def _shot(self, frame: Frame, face: TrackedFace) -> Shot:
        key = (frame.index % self._clip_length, tuple(face.box.as_list()))
        if key not in self._cache:
            self._cache[key] = super()._shot(frame, face)
        cached = self._cache[key]
        return replace(
            cached,
            track_id=face.track_id,
            frame_index=frame.index,
            captured_at=frame.captured_at,
        )


class CachedEmbedder(ShotEmbedder):
    """Embeds each distinct chip once (the same clip frame and box give the same chip)."""

    def __init__(self, embedder: Embedder) -> None:
        super().__init__(embedder)
        self._cache: dict[int, FaceEmbedding] = {}

    def embed(self, shot: Shot) -> FaceEmbedding:
        key = id(shot.chip)
        if key not in self._cache:
            self._cache[key] = super().embed(shot)
        return self._cache[key]


EMBEDDERS = {"edgeface": EDGEFACE_XS_INT8.model_id, "dlib": DLIB_RESNET_V1.model_id}


# --- one run ------------------------------------------------------------------------------
@dataclass
class Result:
    clip: str
    policy: Policy
    mode: Mode
    batch: int
    minutes: float
    items: int
    tracks: int
    payload_bytes: int
    request_bytes: int
    wire_bytes: int
    seconds: float

    def per_minute(self, value: float) -> float:
        return value / self.minutes


def run_once(
    clip: Clip,
    policy: Policy,
    mode: Mode,
    batch: int,
    minutes: float,
    fps: float,
    caches: dict[str, object],
) -> Result:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=fast_tmp()) as folder:
        outbox = Outbox(Path(folder) / "outbox.db", max_bytes=2**40)
        metrics = CameraMetrics("bench")
        detector = caches["detector"]
        assert isinstance(detector, CachedDetector)
        stages = Stages(
            detector=detector,
            tracker=create_tracker(TrackerConfig()),
            policy=create_policy(policy, BestShotConfig()),
            shots=caches["shots"],  # type: ignore[arg-type]
            encoder=CropEncoder(CropConfig()),
            embedder=caches["embedder"] if mode == "embeddings" else None,  # type: ignore[arg-type]
        )
        pipeline = CameraPipeline(
            "bench", stages, outbox, metrics, mode=mode, crops=CropConfig(), run_id="bench"
        )
        for frame in looped_frames(clip, minutes, fps):
            detector.current = frame.index
            pipeline.process(frame)
        pipeline.finish()
        payload, request, wire, items = deliver_all(outbox, batch)
        outbox.close()
    counts = metrics.snapshot()
    return Result(
        clip.name, policy, mode, batch, minutes, items, counts.tracks, payload, request, wire,
        time.perf_counter() - started,
    )  # fmt: skip


def deliver_all(outbox: Outbox, batch: int) -> tuple[int, int, int, int]:
    """Send every queued item through the real Uplink to a fake server, ``batch`` items a
    request; byte totals."""
    uplink = Uplink(
        "https://facewatch.example.org",
        "fw_" + "x" * 40,
        edge_id="site-a",
        transport=httpx.MockTransport(accept_edge_requests),
    )
    payload = request = wire = items = 0
    while queued := outbox.peek(batch):
        for entry, delivery in zip(
            queued, uplink.deliver_many([q.item for q in queued]), strict=True
        ):
            payload += len(entry.item.payload) + len(entry.item.thumbnail or b"")
            request += delivery.request_bytes
            wire += delivery.wire_bytes
            items += 1
            outbox.ack(entry.id)
    uplink.close()
    return payload, request, wire, items


# --- edge cost ----------------------------------------------------------------------------
def edge_cost(clip: Clip, frames: int) -> list[tuple[str, str, float, float]]:
    """(wall, CPU) ms per processed frame (detect + track + shots) per detector, at 720p and
    1080p. CPU time counts every thread of this process (onnxruntime and OpenCV have their
    own): under load from other processes it stays near the cost on an idle core, while
    wall time grows."""
    detectors = {
        "hog (960 px, upsample 1)": DetectorConfig(kind="hog"),
        "haar (960 px)": DetectorConfig(kind="haar"),
    }
    onnx = Path(os.environ.get("FACEWATCH_SHARED_MODELS") or REPO_ROOT.parent / "shared" / "models")
    if (onnx / "ultra_light_640.onnx").is_file():
        detectors["onnx ultra-light 640 (960 px)"] = DetectorConfig(
            kind="onnx", onnx_path=onnx / "ultra_light_640.onnx"
        )
    landmarker = Landmarker()
    rows = []
    step = max(len(clip.frames) // frames, 1)
    sample = clip.frames[::step][:frames]
    for label, config in detectors.items():
        for height in (720, 1080):
            images = [_resize_to_height(image, height) for image in sample]
            rows.append((label, f"{height}p", *_ms_per_frame(config, images, landmarker)))
    return rows


def _ms_per_frame(
    config: DetectorConfig, images: Sequence[RGBImage], landmarker: Landmarker
) -> tuple[float, float]:
    detector = create_candidate_detector(config)
    detector.load()
    tracker = create_tracker(TrackerConfig())
    shots = ShotMaker(landmarker, margin=0.4, min_size=30)
    detector.detect(images[0])  # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    for index, image in enumerate(images):
        update = tracker.update(detector.detect(image))
        shots.shots(Frame("cost", index, index / 6, _T0, image), update.faces)
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    return 1000 * wall / len(images), 1000 * used / len(images)


def _resize_to_height(image: RGBImage, height: int) -> RGBImage:
    if image.shape[0] == height:
        return image
    width = round(image.shape[1] * height / image.shape[0])
    return np.ascontiguousarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))


# --- reporting ----------------------------------------------------------------------------
def bandwidth_table(results: list[Result], clip: Clip) -> str:
    baseline = next(r for r in results if r.policy == "every-frame" and r.batch == 1)
    batched = next(
        r for r in results if (r.policy, r.mode, r.batch) == ("every-frame", "crops", 16)
    )
    density = baseline.per_minute(baseline.items)
    old_factor = CAMERA_BYTES_PER_MINUTE / (density * OLD_BYTES_PER_FACE)
    lines = [
        f"Clip **{clip.name}** ({clip.path.name}, {clip.frames[0].shape[1]}x"
        f"{clip.frames[0].shape[0]}, {clip.seconds:.1f} s, own bitrate "
        f"{clip.bytes_per_minute * 8 / 60 / 1e6:.2f} Mbps), looped to "
        f"{results[0].minutes:g} min; face density (every-frame) {density:.0f} faces/min; "
        f"older design at that density (4.5 KB/face): {old_factor:.1f}x",
        "",
        "| policy | mode | items/request | items/min | tracks/min | payload KB/min | wire KB/min "
        "| wire bytes/item | x vs 4 Mbps | x vs clip bitrate | x vs older design | x less than "
        "every-frame crops (1 / 16 a request) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        wire_min = r.per_minute(r.wire_bytes)
        lines.append(
            f"| {r.policy} | {r.mode} | {r.batch} | {r.per_minute(r.items):.0f} | "
            f"{r.per_minute(r.tracks):.0f} | {r.per_minute(r.payload_bytes) / 1000:.1f} | "
            f"{wire_min / 1000:.1f} | {r.wire_bytes / max(r.items, 1):.0f} | "
            f"{CAMERA_BYTES_PER_MINUTE / wire_min:.0f} | "
            f"{clip.bytes_per_minute / wire_min:.1f} | "
            f"{CAMERA_BYTES_PER_MINUTE / wire_min / old_factor:.1f} | "
            f"{baseline.wire_bytes / r.wire_bytes:.1f} / {batched.wire_bytes / r.wire_bytes:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", default="street,hamilton", help="street, hamilton")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=6.0)
    parser.add_argument("--cost", action="store_true", help="also measure ms per frame")
    parser.add_argument("--cost-only", action="store_true", help="only measure ms per frame")
    parser.add_argument("--cost-frames", type=int, default=20)
    parser.add_argument(
        "--embedder",
        choices=sorted(EMBEDDERS),
        default="edgeface",
        help="the on-site embedder of mode embeddings (default: edgeface)",
    )
    args = parser.parse_args()
    data = testdata_dir()
    print(f"load: {os.getloadavg()[0]:.2f} (1 min) at start; {machine_line()}")
    embedder = create_embedder_for_model(EMBEDDERS[args.embedder], threads=1)
    print(f"embedder: {embedder.model_id} ({embedder.spec.dim}-d)")
    for name in args.clips.split(","):
        clip = load_clip(name, data / CLIPS[name])
        caches: dict[str, object] = {
            "detector": CachedDetector(
                create_candidate_detector(DetectorConfig()), len(clip.frames)
            ),
            "shots": CachedShotMaker(
                ShotMaker(Landmarker(), margin=0.4, min_size=30, align=embedder.align),
                len(clip.frames),
            ),
            "embedder": CachedEmbedder(embedder),
        }
        if not args.cost_only:
            results = [
                run_once(clip, policy, mode, batch, args.minutes, args.fps, caches)
                for policy, mode, batch in RUNS
            ]
            print()
            print(bandwidth_table(results, clip))
        if args.cost or args.cost_only:
            print()
            print(f"Edge cost on {name} frames (ms per processed frame: detect, track, shots):")
            print(
                "| detector | frame | wall ms/frame | CPU ms/frame | streams/core at 6 fps (CPU) |"
            )
            print("|---|---|---|---|---|")
            for label, size, wall, cpu in edge_cost(clip, args.cost_frames):
                print(
                    f"| {label} | {size} | {wall:.0f} | {cpu:.0f} | {1000 / (cpu * args.fps):.2f} |"
                )
    print()
    print(f"load: {os.getloadavg()[0]:.2f} (1 min) at end")


if __name__ == "__main__":
    main()
