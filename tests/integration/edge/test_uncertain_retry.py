"""An uncertain answer to a track's first shot makes the agent send the track's next shot.

The real agent (detection, tracking, best shots, outbox, uplink) reads the Hamilton clip:
Lin-Manuel Miranda is in view from its first frame. The server is faked at the transport
seam, so that what it answers is chosen: ``uncertain`` for every track's first shot, then
either ``known`` for the rest or, as the control, a confident ``unknown`` for everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from facewatch.edge.agent import EdgeAgent
from facewatch.edge.config import EdgeConfig

pytestmark = pytest.mark.testdata

HAMILTON = "face_recognition_examples/examples/short_hamilton_clip.mp4"
FPS = 6
_FIELD = re.compile(rb'name="(idempotency_key|captured_at)"\r\n\r\n(.*?)\r\n--', re.DOTALL)


@dataclass
class FakeServer:
    """Answers each crop with the status ``answer(shot sequence)``; remembers what came.

    Batches are refused as an old server would (404), so the agent sends items one by one.
    """

    answer: Callable[[int], str]
    shots: dict[tuple[str, int], datetime] = field(default_factory=dict)
    """(track, shot sequence) -> capture time of the shot."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.url.path.endswith("/edge/heartbeat"):
            return httpx.Response(200, json={"status": "ok"})  # health, not shots
        if request.url.path.endswith("/edge/batch"):
            return httpx.Response(404, json={"detail": "Not Found"})
        fields = {name.decode(): value.decode() for name, value in _FIELD.findall(request.read())}
        _camera, _run, track, sequence = fields["idempotency_key"].split(":")
        self.shots[track, int(sequence)] = datetime.fromisoformat(fields["captured_at"])
        status = self.answer(int(sequence))
        return httpx.Response(201, json={"detections": [{"status": status, "name": "lin"}]})

    def first_track(self) -> str:
        return min(self.shots, key=lambda key: self.shots[key])[0]

    def delay(self, track: str, sequence: int) -> float | None:
        """Seconds of capture time between the track's first shot and shot ``sequence``."""
        if (track, sequence) not in self.shots:
            return None
        return (self.shots[track, sequence] - self.shots[track, 0]).total_seconds()


def run_agent(testdata: Path, tmp_path: Path, fake: FakeServer) -> None:
    config = EdgeConfig.model_validate(
        {
            "server": "http://fake-server",
            "api_key": "fw_test",
            "cameras": [{"id": "hamilton", "source": str(testdata / HAMILTON), "fps": FPS}],
            "outbox": {"path": str(tmp_path / "outbox.db")},
            "drain_timeout": 10,
        }
    )
    EdgeAgent(config, transport=httpx.MockTransport(fake)).run()


@pytest.fixture(scope="module")
def retried(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> FakeServer:
    fake = FakeServer(answer=lambda sequence: "uncertain" if sequence == 0 else "known")
    run_agent(testdata, tmp_path_factory.mktemp("retried"), fake)
    return fake


@pytest.fixture(scope="module")
def decided(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> FakeServer:
    fake = FakeServer(answer=lambda _: "unknown")
    run_agent(testdata, tmp_path_factory.mktemp("decided"), fake)
    return fake


def test_the_next_shot_follows_an_uncertain_first_shot_within_two_frames(
    retried: FakeServer,
) -> None:
    delay = retried.delay(retried.first_track(), 1)
    assert delay is not None
    assert 0 < delay <= 2 / FPS + 0.01


def test_a_confident_answer_sends_no_second_shot_so_soon(decided: FakeServer) -> None:
    delay = decided.delay(decided.first_track(), 1)
    assert delay is None or delay > 2 / FPS + 0.01


def test_an_answered_track_sends_no_more_than_the_cap(retried: FakeServer) -> None:
    per_track: dict[str, int] = {}
    for track, _ in retried.shots:
        per_track[track] = per_track.get(track, 0) + 1
    assert max(per_track.values()) <= 3  # best_shot.max_shots
