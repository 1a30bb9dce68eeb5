"""Motion gating on real clips, counted in sampled frames (6 fps), never in wall time: a still
scene is searched only by the periodic whole pass, a person walking in is found within a
second of video of when searching every frame whole finds them, and sampled frames come
from the source undecoded except those the sampler keeps, at their own positions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facewatch.edge.bestshot import ShotMaker, create_policy
from facewatch.edge.config import (
    BestShotConfig,
    CropConfig,
    DetectorConfig,
    MotionConfig,
    TrackerConfig,
)
from facewatch.edge.detection import create_candidate_detector
from facewatch.edge.encoder import CropEncoder
from facewatch.edge.metrics import CameraMetrics
from facewatch.edge.motion import create_motion_gate
from facewatch.edge.outbox import OutboxItem
from facewatch.edge.pipeline import CameraPipeline, Stages
from facewatch.edge.recognition import LocalMatch
from facewatch.edge.sampler import FrameSampler
from facewatch.edge.sources import Capture, VideoFileSource, open_capture
from facewatch.edge.tracker import create_tracker
from facewatch.edge.types import Frame, Shot, TrackedFace
from facewatch.vision.landmarks import Landmarker

pytestmark = pytest.mark.testdata

STREET = "facenet_pytorch/examples/video.mp4"
SIZE = (960, 540)
"""The street clip at half its 1080p: the same scene, a lighter test."""
FPS = 6.0


def street_frames(testdata: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(testdata / STREET))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA))
    capture.release()
    return frames


def write_clip(path: Path, frames: Iterable[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, SIZE)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def held(frame: np.ndarray, seconds: float, noise: float = 2.0) -> Iterator[np.ndarray]:
    """``frame`` for ``seconds`` at 25 fps, with a camera's grain."""
    rng = np.random.default_rng(5)
    for _ in range(round(seconds * 25)):
        grain = rng.normal(0, noise, (*frame.shape[:2], 1))
        yield np.clip(frame + grain, 0, 255).astype(np.uint8)


class Seen:
    """The pipeline's observer: the faces on each sampled frame, by frame index."""

    def __init__(self) -> None:
        self.faces: dict[int, list[TrackedFace]] = {}

    def frame_done(self, frame: Frame, faces: list[TrackedFace]) -> None:
        self.faces[frame.index] = list(faces)

    def recognised(self, shot: Shot, verdict: LocalMatch) -> None:
        pass

    def track_ended(self, track_id: int) -> None:
        pass


class Items:
    def __init__(self) -> None:
        self.items: list[OutboxItem] = []

    def put(self, item: OutboxItem) -> bool:
        self.items.append(item)
        return True


@pytest.fixture(scope="module")
def landmarker() -> Landmarker:
    return Landmarker()


def run(clip: Path, landmarker: Landmarker, motion: MotionConfig) -> tuple[CameraMetrics, Seen]:
    """The clip through one camera's real stages (the agent's, with a list for an outbox)."""
    stages = Stages(
        detector=create_candidate_detector(DetectorConfig(kind="onnx")),
        tracker=create_tracker(TrackerConfig()),
        policy=create_policy("best", BestShotConfig()),
        shots=ShotMaker(landmarker, margin=0.4, min_size=20),
        encoder=CropEncoder(CropConfig()),
        gate=create_motion_gate(motion),
    )
    metrics, seen = CameraMetrics("cam"), Seen()
    pipeline = CameraPipeline(
        "cam", stages, Items(), metrics, mode="crops", crops=CropConfig(), run_id="t",
        observer=seen,
    )  # fmt: skip
    sampler = FrameSampler(FPS)
    for frame in VideoFileSource(clip, "cam").frames(sampler.keep):
        pipeline.process(frame)
    pipeline.finish()
    return metrics, seen


def test_a_still_scene_is_searched_only_by_the_periodic_pass(
    testdata: Path, tmp_path: Path, landmarker: Landmarker
) -> None:
    first = street_frames(testdata)[0]
    clip = write_clip(tmp_path / "still.avi", held(first, 10.0))

    metrics, seen = run(clip, landmarker, MotionConfig(enabled=True, keepalive=2.0))

    counts = metrics.snapshot()
    assert counts.frames_processed + counts.frames_still == 60  # 10 s at 6 fps
    assert counts.frames_processed == 5  # at 0, 2, 4, 6 and 8 s
    assert counts.frames_still == 55
    assert counts.candidates >= 3 * 5  # the people standing in it are found on every pass
    on_every_frame = set.intersection(
        *({face.track_id for face in faces} for faces in seen.faces.values())
    )
    assert len(on_every_frame) >= 3  # carried in between: their tracks never broke


@pytest.mark.parametrize("max_share", [0.5, 1.0], ids=["gate's choice", "regions only"])
def test_people_walking_in_are_found_within_a_second_of_video(
    testdata: Path, tmp_path: Path, landmarker: Landmarker, max_share: float
) -> None:
    frames = street_frames(testdata)
    clip = write_clip(tmp_path / "walk-in.avi", [*held(frames[0], 2.0), *frames])
    gated_motion = MotionConfig(enabled=True, keepalive=60.0, max_share=max_share)

    _, every = run(clip, landmarker, MotionConfig(enabled=False))
    gated_metrics, gated = run(clip, landmarker, gated_motion)

    sampled = sorted(every.faces)
    step = {index: n for n, index in enumerate(sampled)}
    first_seen = first_sightings(every.faces)
    sightings = Counter(face.track_id for faces in every.faces.values() for face in faces)
    walking_in = {  # tracks the best-shot policy would send (two sightings or more)
        track: index
        for track, index in first_seen.items()
        if step[index] > 12 and sightings[track] >= 2
    }
    assert len(walking_in) >= 3  # people who came into view after the held 2 s
    for index in walking_in.values():
        box = next(f.box for f in every.faces[index] if first_seen.get(f.track_id) == index)
        found = next(
            (
                later
                for later in sampled[step[index] :]
                if any(
                    face.box.iou(box) > 0.2 or near(face.box, box) for face in gated.faces[later]
                )
            ),
            None,
        )
        assert found is not None
        assert step[found] - step[index] <= 6  # 6 sampled frames: one second at 6 fps
    if max_share == 1.0:
        assert gated_metrics.snapshot().frames_processed > 20  # searched in regions


def first_sightings(faces: dict[int, list[TrackedFace]]) -> dict[int, int]:
    first: dict[int, int] = {}
    for index in sorted(faces):
        for face in faces[index]:
            first.setdefault(face.track_id, index)
    return first


def near(a: object, b: object) -> bool:
    """Centres within a face width: the same walker a frame or two later."""
    from facewatch.types import Box

    assert isinstance(a, Box)
    assert isinstance(b, Box)
    dx = (a.left + a.right - b.left - b.right) / 2
    dy = (a.top + a.bottom - b.top - b.bottom) / 2
    return (dx * dx + dy * dy) ** 0.5 <= max(b.width, 1)


class CountingCapture:
    """The real capture, counting the frames it was asked to decode into an image."""

    def __init__(self, inner: Capture) -> None:
        self.inner = inner
        self.retrieved = 0

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.inner.isOpened()

    def grab(self) -> bool:
        return self.inner.grab()

    def retrieve(self) -> tuple[bool, object]:
        self.retrieved += 1
        return self.inner.retrieve()

    def get(self, prop_id: int) -> float:
        return self.inner.get(prop_id)

    def release(self) -> None:
        self.inner.release()


def test_frames_the_sampler_skips_are_never_converted_and_kept_ones_are_exact(
    testdata: Path,
) -> None:
    captures: list[CountingCapture] = []

    def opener(target: str | int) -> Capture:
        captures.append(CountingCapture(open_capture(target)))
        return captures[-1]

    sampler = FrameSampler(FPS)
    kept = list(VideoFileSource(testdata / STREET, "cam", opener=opener).frames(sampler.keep))

    every = cv2.VideoCapture(str(testdata / STREET))
    reference, index = FrameSampler(FPS), 0
    expected: list[tuple[int, float, np.ndarray]] = []
    while True:
        ok, bgr = every.read()
        if not ok:
            break
        if reference.keep(index / 25.0):
            expected.append((index, index / 25.0, bgr))
        index += 1
    every.release()

    assert index == 105
    assert len(kept) == len(expected) == 25  # 4.2 s at 6 fps
    assert captures[0].retrieved == 25  # the other 80 frames were grabbed only
    for frame, (number, position, bgr) in zip(kept, expected, strict=True):
        assert frame.index == number
        assert frame.position == pytest.approx(position)
        assert np.array_equal(frame.image, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
