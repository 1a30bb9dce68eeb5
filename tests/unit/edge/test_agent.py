"""The agent's frame loop with a live source: it keeps the newest frame and counts the rest.

The camera and the server are faked at their seams (a ``FrameSource`` and an
``httpx.MockTransport``); detection, tracking and the outbox are real.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import numpy as np

from facewatch.edge.agent import EdgeAgent
from facewatch.edge.config import CameraConfig, DetectorConfig, EdgeConfig
from facewatch.edge.sources import FrameSource, KeepFrame
from facewatch.edge.types import Frame


class FakeLiveCamera(FrameSource):
    """A live camera that delivers ``count`` frames as fast as it can, then goes quiet."""

    live = True

    def __init__(self, camera_id: str, count: int) -> None:
        super().__init__(camera_id)
        self.count = count

    def frames(self, keep: KeepFrame | None = None) -> Iterator[Frame]:
        image = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
        for index in range(self.count):
            position = index / 30
            if keep is None or keep(position):
                yield Frame(self.camera_id, index, position, datetime.now(UTC), image)
            time.sleep(0.001)


def test_a_live_source_faster_than_processing_drops_and_counts_frames(tmp_path: Path) -> None:
    config = EdgeConfig(
        server="http://server",
        api_key="fw_test",
        cameras=[CameraConfig(id="live", source="0", fps=30)],
        outbox={"path": tmp_path / "outbox.db"},  # type: ignore[arg-type]
        drain_timeout=1,
    )
    agent = EdgeAgent(
        config,
        transport=httpx.MockTransport(lambda _: httpx.Response(201, json={"detections": []})),
        source_factory=lambda camera: FakeLiveCamera(camera.id, count=60),
    )
    counts = agent.run().cameras["live"]
    assert counts.frames_in == counts.frames_sampled == 60
    assert counts.frames_dropped > 0
    handled = counts.frames_processed + counts.frames_still  # still: the motion gate's
    assert handled + counts.frames_dropped == counts.frames_sampled


def test_a_video_file_played_in_real_time_drops_frames_a_slow_agent_cannot_take(
    tmp_path: Path,
) -> None:
    # 1 s of 640x480 noise at 25 fps, all sampled: HOG with one upsampling takes far longer
    # than 40 ms a frame, so frames must be dropped, not queued behind the detector (the
    # default onnx detector may keep up on an idle machine).
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 480))
    rng = np.random.default_rng(2)
    for _ in range(26):
        writer.write(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
    writer.release()
    config = EdgeConfig(
        server="http://server",
        api_key="fw_test",
        cameras=[
            CameraConfig(
                id="file",
                source=str(clip),
                fps=25,
                realtime=True,
                detector=DetectorConfig(kind="hog"),
            )
        ],
        outbox={"path": tmp_path / "outbox.db"},  # type: ignore[arg-type]
        drain_timeout=1,
    )
    agent = EdgeAgent(
        config,
        transport=httpx.MockTransport(lambda _: httpx.Response(201, json={"detections": []})),
    )
    started = time.monotonic()
    counts = agent.run().cameras["file"]
    elapsed = time.monotonic() - started
    assert counts.frames_sampled == 26
    assert counts.frames_dropped > 0
    assert counts.frames_processed + counts.frames_dropped == counts.frames_sampled
    assert elapsed < 1.0 + 26 * 0.04 + 2.0  # the clip's second, not a queue of 26 detections


class FirstFrameProbe(FrameSource):
    """A one-frame camera that notes, when it is opened, whether the models are loaded."""

    def __init__(self, camera_id: str, agent: list[EdgeAgent]) -> None:
        super().__init__(camera_id)
        self.agent = agent
        self.loaded: list[bool] = []

    def frames(self, keep: KeepFrame | None = None) -> Iterator[Frame]:
        agent = self.agent[0]
        stages = agent._cameras[self.camera_id].pipeline.stages
        models = [agent._landmarker, stages.detector.detector]
        self.loaded = [model._loaded for model in models]
        yield Frame(self.camera_id, 0, 0.0, datetime.now(UTC), np.zeros((48, 64, 3), np.uint8))


def test_the_models_are_loaded_before_the_first_frame_is_read(tmp_path: Path) -> None:
    config = EdgeConfig(
        server="http://server",
        api_key="fw_test",
        cameras=[CameraConfig(id="cam", source="0")],
        outbox={"path": tmp_path / "outbox.db"},  # type: ignore[arg-type]
        drain_timeout=1,
    )
    holder: list[EdgeAgent] = []
    probes: list[FirstFrameProbe] = []

    def probe(camera: CameraConfig) -> FrameSource:
        probes.append(FirstFrameProbe(camera.id, holder))
        return probes[-1]

    agent = EdgeAgent(
        config,
        transport=httpx.MockTransport(lambda _: httpx.Response(201, json={"detections": []})),
        source_factory=probe,
    )
    holder.append(agent)
    agent.run()
    assert probes[0].loaded == [True, True]
