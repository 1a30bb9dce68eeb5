"""Streams per edge box: CPU seconds per second of 1080p video for one agent process (issue 20).

One ``EdgeAgent`` (the real one: a thread per camera, its sources, sampler at 6 fps, motion
gate, candidate detector, tracker, best shots, crop encoder, SQLite outbox, uplink to an
``httpx.MockTransport`` answering 201) serves N cameras that all play the same clip from
the file, as fast as it processes them. CPU is the process's own (``resource.getrusage``:
every thread), less what a run with the same cameras and no frame costs (models, threads,
outbox); the machine is shared, so wall time says little. Streams per 2 cores is 2 / (CPU
seconds per second of video per stream).

Clips:

* busy: the street clip (facenet_pytorch/examples/video.mp4, 1920x1080 H.264 25 fps, 4.2 s:
  pedestrians walking towards the camera, 3 to 5 faces a frame), looped ``--busy-loops``
  times (each pass a fresh set of tracks);
* quiet: built at run time in a temporary folder (never kept): the street clip's first frame
  held for ``--hold`` seconds with a little sensor noise, then the clip played once (people
  passing), then its last frame held, and so on for ``--quiet-minutes``; 1920x1080 25 fps
  MPEG-4 part 2 (OpenCV's writer has no H.264 here: its decoding is cheaper, see the cost
  of decoding alone in the output).

Tracks found: the same stages on one stream, with the motion gate (regions, periodic whole
passes) against every sampled frame searched whole; an every-frame track (two sightings or
more: what the best-shot policy would send) counts as found if, on one of its frames, the
gated run detected a face overlapping it (IoU >= 0.3).

``--recall`` instead measures the candidate detectors' recall on the test clips against
dlib's MMOD CNN run on the full frames upsampled once (faces from about 40 px): the
street clip and the intel_sample_videos walking and head-pose clips at 6 fps.

    python benchmarks/bench_edge_streams.py                      # busy and quiet, 1 and 8 streams
    python benchmarks/bench_edge_streams.py --streams 1,4,8 --clips busy
    python benchmarks/bench_edge_streams.py --recall

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import multiprocessing.queues
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import accept_edge_requests, fast_tmp, machine_line, testdata_dir
from facewatch.edge.agent import EdgeAgent
from facewatch.edge.config import (
    CameraConfig,
    DetectorConfig,
    EdgeConfig,
    MotionConfig,
    TrackerConfig,
)
from facewatch.edge.detection import create_candidate_detector
from facewatch.edge.motion import create_motion_gate
from facewatch.edge.sampler import FrameSampler
from facewatch.edge.sources import FrameSource, KeepFrame, VideoFileSource, open_capture
from facewatch.edge.tracker import create_tracker
from facewatch.edge.types import Frame
from facewatch.types import Box, RGBImage

STREET = "facenet_pytorch/examples/video.mp4"
RECALL_CLIPS = [
    STREET,
    "intel_sample_videos/face-demographics-walking.gif",
    "intel_sample_videos/face-demographics-walking-and-pause.gif",
    "intel_sample_videos/head-pose-face-detection-female-and-male.gif",
    "intel_sample_videos/head-pose-face-detection-male.gif",
    "intel_sample_videos/head-pose-face-detection-female.gif",
]
FPS = 6.0


# --- clips -----------------------------------------------------------------------------
def build_quiet_clip(street: Path, out: Path, minutes: float, hold: float, noise: float) -> Path:
    """The quiet clip (module doc): held frames with noise, the street clip now and then."""
    frames = _decoded(street)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width, height))
    rng = np.random.default_rng(20)
    grain = [rng.normal(0, noise, (height, width, 1)).astype(np.int16) for _ in range(8)]
    total, written, still = round(minutes * 60 * 25), 0, frames[0]
    while written < total:
        for n in range(min(round(hold * 25), total - written)):
            noisy = np.clip(still.astype(np.int16) + grain[n % len(grain)], 0, 255)
            writer.write(noisy.astype(np.uint8))
            written += 1
        for frame in frames[: total - written]:
            writer.write(frame)
            written += 1
        still = frames[-1] if still is frames[0] else frames[0]
    writer.release()
    return out


def _decoded(path: Path) -> list[RGBImage]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(bgr)
    capture.release()
    return frames


def duration(path: Path) -> float:
    capture = open_capture(str(path))
    seconds = capture.get(cv2.CAP_PROP_FRAME_COUNT) / capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return float(seconds)


class LoopedFile(FrameSource):
    """A video file played ``loops`` times in a row, positions running on (a longer clip)."""

    finite = True

    def __init__(self, path: Path, camera_id: str, loops: int) -> None:
        super().__init__(camera_id)
        self.path, self.loops, self.length = path, loops, duration(path)

    def frames(self, keep: KeepFrame | None = None) -> Iterator[Frame]:
        index = 0
        for loop in range(self.loops):
            offset = loop * self.length
            inner = VideoFileSource(self.path, self.camera_id)
            moved = None if keep is None else (lambda p, o=offset: keep(p + o))
            for frame in inner.frames(moved):
                if self.stopped:
                    return
                yield replace(frame, index=index + frame.index, position=frame.position + offset)
            index += round(self.length * 25)


# --- CPU of one agent process -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Cost:
    streams: int
    video_seconds: float
    cpu_seconds: float
    wall_seconds: float
    processed: int
    still: int
    sampled: int

    @property
    def per_stream(self) -> float:
        """CPU seconds per second of video per stream."""
        return self.cpu_seconds / (self.streams * self.video_seconds)


def agent_cost(
    clip: Path,
    loops: int,
    streams: int,
    detector: DetectorConfig,
    motion: MotionConfig,
    processes: bool = False,
) -> Cost:
    """Run one agent with ``streams`` cameras on ``clip``; its CPU less an empty run's.

    ``processes``: instead, one agent process per camera, side by side (their CPU, start-up
    and imports included, less that of the same processes given no frame)."""
    run = _run_processes if processes else _run_agent
    empty = run(clip, 0, streams, detector, motion)
    full = run(clip, loops, streams, detector, motion)
    return replace(full, cpu_seconds=full.cpu_seconds - empty.cpu_seconds)


def _run_processes(
    clip: Path, loops: int, streams: int, detector: DetectorConfig, motion: MotionConfig
) -> Cost:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    started_cpu, started = _children_cpu(), time.perf_counter()
    workers = [
        context.Process(target=_one_agent, args=(clip, loops, detector, motion, results))
        for _ in range(streams)
    ]
    for worker in workers:
        worker.start()
    costs = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    cpu, wall = _children_cpu() - started_cpu, time.perf_counter() - started
    return Cost(
        streams=streams,
        video_seconds=loops * duration(clip),
        cpu_seconds=cpu,
        wall_seconds=wall,
        processed=sum(c.processed for c in costs),
        still=sum(c.still for c in costs),
        sampled=sum(c.sampled for c in costs),
    )


def _one_agent(
    clip: Path,
    loops: int,
    detector: DetectorConfig,
    motion: MotionConfig,
    results: multiprocessing.queues.Queue[Cost],
) -> None:
    logging.basicConfig(level=logging.WARNING)
    results.put(_run_agent(clip, loops, 1, detector, motion))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_agent(
    clip: Path, loops: int, streams: int, detector: DetectorConfig, motion: MotionConfig
) -> Cost:
    with tempfile.TemporaryDirectory(prefix="fw-streams-", dir=fast_tmp()) as folder:
        config = EdgeConfig(
            server="http://edge-bench.invalid",
            api_key="fw_bench",
            cameras=[
                CameraConfig(id=f"cam{n}", source=str(clip), detector=detector, motion=motion)
                for n in range(streams)
            ],
            outbox={"path": Path(folder) / "outbox.db"},
            drain_timeout=30,
            metrics_interval=3600,
        )
        started_cpu, started = _cpu(), time.perf_counter()
        agent = EdgeAgent(
            config,
            transport=httpx.MockTransport(accept_edge_requests),
            source_factory=lambda cam: LoopedFile(clip, cam.id, loops),
        )
        summary = agent.run()
        cpu, wall = _cpu() - started_cpu, time.perf_counter() - started
    counts = summary.cameras.values()
    return Cost(
        streams=streams,
        video_seconds=loops * duration(clip),
        cpu_seconds=cpu,
        wall_seconds=wall,
        processed=sum(c.frames_processed for c in counts),
        still=sum(c.frames_still for c in counts),
        sampled=sum(c.frames_sampled for c in counts),
    )


def decode_cost(clip: Path) -> float:
    """CPU seconds per second of video to grab every frame and convert the 6 fps kept."""
    sampler, started = FrameSampler(FPS), _cpu()
    for _ in VideoFileSource(clip, "decode").frames(sampler.keep):
        pass
    return (_cpu() - started) / duration(clip)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- tracks found -----------------------------------------------------------------------
Sightings = dict[int, list[Box]]
"""Fresh faces (boxes) per sampled frame index."""


def sightings(
    clip: Path, detector: DetectorConfig, motion: MotionConfig | None, loops: int
) -> tuple[Sightings, dict[int, list[tuple[int, Box]]]]:
    """Faces detected per frame, and each track's (frame, box), through the agent's stages."""
    candidates = create_candidate_detector(detector)
    tracker = create_tracker(TrackerConfig())
    gate = create_motion_gate(motion) if motion is not None else None
    sampler = FrameSampler(FPS)
    seen: Sightings = {}
    tracks: dict[int, list[tuple[int, Box]]] = {}
    for frame in LoopedFile(clip, "tracks", loops).frames(sampler.keep):
        check = gate.check(frame.image, frame.position) if gate is not None else None
        if check is not None and not check.searched:
            continue
        regions = None if check is None or check.full else check.regions
        update = tracker.update(candidates.detect(frame.image, regions), regions)
        seen[frame.index] = [face.box for face in update.faces]
        for face in update.faces:
            tracks.setdefault(face.track_id, []).append((frame.index, face.box))
    return seen, tracks


def tracks_found(reference: dict[int, list[tuple[int, Box]]], gated: Sightings) -> tuple[int, int]:
    """(reference tracks of two sightings or more, those the gated run detected)."""
    confirmed = [track for track in reference.values() if len(track) >= 2]
    found = sum(
        any(any(box.iou(other) >= 0.3 for other in gated.get(index, [])) for index, box in track)
        for track in confirmed
    )
    return len(confirmed), found


# --- recall of the candidate detectors ----------------------------------------------------
def recall_table(data: Path, variants: dict[str, DetectorConfig]) -> str:
    from facewatch.vision.detectors.mmod_cnn import MmodCnnDetector

    mmod = MmodCnnDetector(threads=1, upsample=1)
    detectors = {name: create_candidate_detector(config) for name, config in variants.items()}
    found = {name: [0, 0, 0.0] for name in variants}  # matched, extra, cpu
    reference_total, frames = 0, 0
    per_clip: list[str] = []
    for relative in RECALL_CLIPS:
        clip_ref, clip_found = 0, dict.fromkeys(variants, 0)
        sampler = FrameSampler(FPS)
        for frame in VideoFileSource(data / relative, "recall").frames(sampler.keep):
            frames += 1
            truth = [face.box for face in mmod.detect(frame.image) if face.score >= 0.0]
            clip_ref += len(truth)
            for name, detector in detectors.items():
                started = time.process_time()
                boxes = [c.box for c in detector.detect(frame.image)]
                found[name][2] += time.process_time() - started
                matched = _matched(truth, boxes)
                clip_found[name] += matched
                found[name][0] += matched
                found[name][1] += len(boxes) - matched
        reference_total += clip_ref
        per_clip.append(
            f"| {relative} | {clip_ref} | "
            + " | ".join(f"{clip_found[n]} ({_share(clip_found[n], clip_ref)})" for n in variants)
            + " |"
        )
    lines = [
        "| clip | MMOD faces | " + " | ".join(variants) + " |",
        "|---|---|" + "---|" * len(variants),
        *per_clip,
        f"| **all** ({frames} frames) | {reference_total} | "
        + " | ".join(
            f"**{found[n][0]} ({_share(found[n][0], reference_total)})**" for n in variants
        )
        + " |",
        "| candidates matching no MMOD face | | "
        + " | ".join(str(found[n][1]) for n in variants)
        + " |",
        "| CPU ms a frame (detector) | | "
        + " | ".join(f"{1000 * found[n][2] / frames:.1f}" for n in variants)
        + " |",
    ]
    return "\n".join(lines)


def _matched(truth: list[Box], boxes: list[Box]) -> int:
    """Reference faces matched one to one by a box overlapping it (IoU >= 0.3)."""
    free, matched = list(boxes), 0
    for face in truth:
        best = max(free, key=face.iou, default=None)
        if best is not None and face.iou(best) >= 0.3:
            free.remove(best)
            matched += 1
    return matched


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


# --- main -------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", default="busy,quiet")
    parser.add_argument("--streams", default="1,8", help="stream counts, comma-separated")
    parser.add_argument("--busy-loops", type=int, default=6)
    parser.add_argument("--quiet-minutes", type=float, default=3.0)
    parser.add_argument("--hold", type=float, default=40.0, help="quiet clip: seconds held")
    parser.add_argument("--noise", type=float, default=2.0, help="quiet clip: grain (sd)")
    parser.add_argument("--detector", choices=["hog", "haar", "onnx"], default=None)
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--no-motion", action="store_true", help="every frame searched whole")
    parser.add_argument("--recall", action="store_true", help="detector recall on the clips")
    parser.add_argument(
        "--processes", action="store_true", help="one agent process per stream, not threads"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = testdata_dir()
    print(machine_line(), f"; load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.recall:
        print(recall_table(data, _recall_variants()))
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        return
    detector = _detector(args)
    motion = MotionConfig(enabled=not args.no_motion)
    with tempfile.TemporaryDirectory(prefix="fw-quiet-") as folder:
        for name in args.clips.split(","):
            clip, loops = _clip(name, data, Path(folder), args)
            counts = [int(n) for n in args.streams.split(",")]
            _report(name, clip, loops, counts, detector, motion, args.processes)


def _report(
    name: str,
    clip: Path,
    loops: int,
    counts: list[int],
    detector: DetectorConfig,
    motion: MotionConfig,
    processes: bool,
) -> None:
    seconds = loops * duration(clip)
    layout = "one process per stream" if processes else "one agent process, a thread per stream"
    print(
        f"\n{name}: {clip.name}, {seconds:.0f} s of video a stream; detector {detector.kind} "
        f"at {detector.width} px; motion gate {'on' if motion.enabled else 'off'}; {layout}"
    )
    print(f"decoding alone (grab all, convert 6 fps): {decode_cost(clip):.3f} CPU s/s")
    reference = sightings(clip, detector, None, loops)[1]
    gated = sightings(clip, detector, motion, loops)[0] if motion.enabled else None
    if gated is not None:
        total, found = tracks_found(reference, gated)
        print(f"tracks: {found} of {total} every-frame tracks found ({_share(found, total)})")
    print("| streams | CPU s per video s per stream | streams per 2 cores | processed / still "
          "/ sampled frames | CPU/wall (cores busy) | load |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for streams in counts:
        cost = agent_cost(clip, loops, streams, detector, motion, processes)
        print(
            f"| {streams} | {cost.per_stream:.3f} | {2 / cost.per_stream:.1f} | "
            f"{cost.processed} / {cost.still} / {cost.sampled} | "
            f"{cost.cpu_seconds / cost.wall_seconds:.2f} | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )


def _clip(name: str, data: Path, folder: Path, args: argparse.Namespace) -> tuple[Path, int]:
    street = data / STREET
    if name == "busy":
        return street, args.busy_loops
    if name == "quiet":
        started = time.perf_counter()
        clip = build_quiet_clip(
            street, folder / "quiet.mp4", args.quiet_minutes, args.hold, args.noise
        )
        print(f"quiet clip built in {time.perf_counter() - started:.0f} s", flush=True)
        return clip, 1
    raise SystemExit(f"unknown clip {name!r}: busy or quiet")


def _detector(args: argparse.Namespace) -> DetectorConfig:
    settings: dict[str, object] = {}
    if args.detector:
        settings["kind"] = args.detector
    if args.width:
        settings["width"] = args.width
    return DetectorConfig.model_validate(settings)


def _recall_variants() -> dict[str, DetectorConfig]:
    return {
        "hog 960": DetectorConfig(kind="hog", width=960),
        "onnx 640": DetectorConfig(kind="onnx", width=640),
        "onnx 960": DetectorConfig(kind="onnx", width=960),
        "onnx 1280": DetectorConfig(kind="onnx", width=1280),
    }


if __name__ == "__main__":
    main()
