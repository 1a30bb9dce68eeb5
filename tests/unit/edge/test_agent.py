"""The agent's frame loop with a live source: it keeps the newest frame and counts the rest.

The camera and the server are faked at their seams (a ``FrameSource`` and an
``httpx.MockTransport``); detection, tracking and the outbox are real.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from facewatch.edge.agent import EdgeAgent
from facewatch.edge.config import CameraConfig, EdgeConfig
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
    assert counts.frames_processed + counts.frames_dropped == counts.frames_sampled
