"""One agent, many streams: two real clips played side by side by one agent process (a thread
per camera) give each camera the detections it gets when played alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from facewatch.edge.agent import EdgeAgent
from facewatch.edge.config import CameraConfig, EdgeConfig
from facewatch.edge.metrics import CameraCounts
from facewatch.edge.sources import FrameSource, KeepFrame, VideoFileSource
from facewatch.edge.types import Frame

pytestmark = pytest.mark.testdata

CLIPS = {
    "street": "facenet_pytorch/examples/video.mp4",
    "stage": "face_recognition_examples/examples/short_hamilton_clip.mp4",
}


class Timed(FrameSource):
    """A video file that notes when each of its frames was handed to the agent."""

    finite = True

    def __init__(self, path: Path, camera_id: str, log: list[tuple[str, float]]) -> None:
        super().__init__(camera_id)
        self.inner = VideoFileSource(path, camera_id)
        self.log = log
        self.lock = threading.Lock()

    def frames(self, keep: KeepFrame | None = None) -> Iterator[Frame]:
        for frame in self.inner.frames(keep):
            with self.lock:
                self.log.append((self.camera_id, time.monotonic()))
            yield frame


def fake_server(request: httpx.Request) -> httpx.Response:
    """Accepts every request; answers an edge batch item by item."""
    if request.url.path.endswith("/edge/batch"):
        return httpx.Response(200, json={"results": []})
    return httpx.Response(201, json={"detections": [], "replayed": False})


def run(
    testdata: Path, tmp_path: Path, cameras: list[str]
) -> tuple[dict[str, CameraCounts], list[tuple[str, float]]]:
    log: list[tuple[str, float]] = []
    config = EdgeConfig(
        server="http://edge-test.invalid",
        api_key="fw_test",
        cameras=[CameraConfig(id=name, source=str(testdata / CLIPS[name])) for name in cameras],
        outbox={"path": tmp_path / f"{'-'.join(cameras)}.db"},  # type: ignore[arg-type]
        drain_timeout=1,
    )
    agent = EdgeAgent(
        config,
        transport=httpx.MockTransport(fake_server),
        source_factory=lambda cam: Timed(testdata / CLIPS[cam.id], cam.id, log),
    )
    summary = agent.run()
    assert summary.failed == {}
    return summary.cameras, log


def detections(counts: CameraCounts) -> tuple[int, ...]:
    return (
        counts.frames_in,
        counts.frames_sampled,
        counts.frames_processed,
        counts.frames_still,
        counts.candidates,
        counts.tracks,
    )


def test_two_clips_side_by_side_find_what_each_finds_alone(testdata: Path, tmp_path: Path) -> None:
    alone = {name: run(testdata, tmp_path, [name])[0][name] for name in CLIPS}
    together, log = run(testdata, tmp_path, list(CLIPS))

    for name in CLIPS:
        assert detections(together[name]) == detections(alone[name])
        assert together[name].candidates > 0
    # the two cameras were served at the same time, not one after the other
    first = {name: min(t for cam, t in log if cam == name) for name in CLIPS}
    last = {name: max(t for cam, t in log if cam == name) for name in CLIPS}
    assert max(first.values()) < min(last.values())
