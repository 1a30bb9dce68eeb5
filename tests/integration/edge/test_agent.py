"""The edge agent on the real surveillance-like clip, into the real server over HTTP.

facenet_pytorch/examples/video.mp4: 1080p, 25 fps, 4.2 s, pedestrians walking towards the
camera (3 to 5 faces a frame at about 74 px). Every run reads the whole clip at 6 fps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from facewatch.edge.agent import EdgeAgent, RunSummary
from facewatch.edge.config import EdgeConfig
from facewatch.edge.outbox import Outbox
from facewatch.types import Box

from .conftest import LiveServer, RecordingTransport

ConfigMaker = Callable[..., EdgeConfig]


def run_agent(config: EdgeConfig, transport: RecordingTransport) -> tuple[RunSummary, str]:
    agent = EdgeAgent(config, transport=transport)
    return agent.run(), agent.run_id


def assert_each_item_stored_once(
    server: LiveServer, camera_id: str, transport: RecordingTransport
) -> None:
    """Every answer for a key names the same detections, and the server holds no others."""
    for key, answers in transport.answers.items():
        assert all(ids == answers[0] for ids in answers), key
    answered = [i for answers in transport.answers.values() for i in answers[0]]
    stored = [d["id"] for d in server.detections(camera_id=camera_id)]
    assert sorted(stored) == sorted(answered)
    assert len(set(stored)) == len(stored)


@pytest.fixture(scope="module")
def best(make_config: ConfigMaker, clip: Path) -> tuple[RunSummary, str, RecordingTransport]:
    transport = RecordingTransport()
    # HOG's pace (~0.1-0.2 s a frame) lets shots gather into batches, whose crop boxes the
    # tests read; the default onnx detector is fast enough to send each shot on its own.
    hog = {"id": "street-best", "source": str(clip), "detector": {"kind": "hog"}}
    config = make_config("street-best", clip, cameras=[hog])
    summary, run_id = run_agent(config, transport)
    return summary, run_id, transport


@pytest.fixture(scope="module")
def every_frame(make_config: ConfigMaker, clip: Path) -> RunSummary:
    transport = RecordingTransport()
    hog = {"id": "street-all", "source": str(clip), "detector": {"kind": "hog"}}  # as `best`
    config = make_config("street-all", clip, policy="every-frame", cameras=[hog])
    summary, _ = run_agent(config, transport)
    return summary


def test_the_clip_arrives_as_detections_with_track_ids_and_edge_id(
    server: LiveServer, best: tuple[RunSummary, str, RecordingTransport]
) -> None:
    summary, run_id, _ = best
    counts = summary.cameras["street-best"]
    assert summary.outbox_left == 0
    assert (counts.frames_in, counts.frames_sampled, counts.frames_processed) == (105, 25, 25)
    assert counts.sent == counts.queued > 0
    assert counts.rejected == 0
    detections = server.detections(camera_id="street-best")
    assert len(detections) >= 5
    assert {d["edge_id"] for d in detections} == {"test-site"}
    assert all(d["track_id"].startswith(f"{run_id}-") for d in detections)
    assert all(d["crop_sha256"] for d in detections)
    assert {d["status"] for d in detections} == {"unknown"}  # nobody is enrolled


def test_each_crop_goes_with_the_face_box_the_server_finds_its_face_in(
    server: LiveServer, best: tuple[RunSummary, str, RecordingTransport]
) -> None:
    _, _, transport = best
    assert transport.crop_boxes
    assert all(box is not None for box in transport.crop_boxes.values())
    stored = {d["id"]: d["box"] for d in server.detections(camera_id="street-best")}
    for key, box in transport.crop_boxes.items():
        assert box is not None
        for detection in transport.answers[key][0]:
            found = Box(*stored[detection])
            assert found.iou(Box(*box)) >= 0.5, key


def test_best_shots_send_a_few_crops_per_track_instead_of_every_face(
    best: tuple[RunSummary, str, RecordingTransport], every_frame: RunSummary
) -> None:
    summary, _, transport = best
    per_track = Counter(key.rsplit(":", 1)[0] for key in transport.answers)
    assert max(per_track.values()) <= 3
    best_counts, all_counts = summary.cameras["street-best"], every_frame.cameras["street-all"]
    assert all_counts.candidates == best_counts.candidates
    assert all_counts.sent >= 3 * best_counts.sent
    assert all_counts.payload_bytes >= 3 * best_counts.payload_bytes


def test_each_crop_is_stored_exactly_once(
    server: LiveServer, best: tuple[RunSummary, str, RecordingTransport]
) -> None:
    assert_each_item_stored_once(server, "street-best", best[2])


def test_answers_lost_on_the_way_back_are_retried_and_stored_once(
    server: LiveServer, make_config: ConfigMaker, clip: Path
) -> None:
    # One item per request (the plain ingest route), every third answer lost.
    transport = RecordingTransport(lose_every=3)
    config = make_config("street-lossy", clip, fps=3, uplink={"batch_size": 1})
    summary, _ = run_agent(config, transport)
    counts = summary.cameras["street-lossy"]
    assert transport.lost > 0
    # An item stored with faces and sent again is answered as a replay of the first answer
    # (a crop in which the server found no face stores nothing, so there is nothing to replay).
    sent_again = [a for a in transport.answers.values() if len(a) > 1 and a[0]]
    assert counts.replayed == len(sent_again) > 0
    assert summary.outbox_left == 0
    assert_each_item_stored_once(server, "street-lossy", transport)


def test_with_the_server_down_crops_wait_on_disk_and_go_out_once_after_restart(
    server: LiveServer, make_config: ConfigMaker, clip: Path, tmp_path: Path
) -> None:
    down = RecordingTransport()
    server.stop()
    try:
        config = make_config("street-outage", clip, fps=3, drain_timeout=0.5)
        summary, _ = run_agent(config, down)
    finally:
        server.start()
    queued = summary.cameras["street-outage"].queued
    assert down.failures > 0
    assert queued > 0
    assert summary.outbox_left == queued
    with Outbox(config.outbox.path, max_bytes=config.outbox.max_bytes) as on_disk:
        assert on_disk.depth == queued

    # A later run of the agent (same outbox file) on a clip with no face delivers them.
    up = RecordingTransport()
    blank = write_blank_video(tmp_path / "blank.avi")
    later, _ = run_agent(make_config("street-outage", blank), up)
    assert later.outbox_left == 0
    assert len(up.answers) == queued
    assert_each_item_stored_once(server, "street-outage", up)


def write_blank_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    for _ in range(5):
        writer.write(np.zeros((240, 320, 3), dtype=np.uint8))
    writer.release()
    return path


HAMILTON = "face_recognition_examples/examples/short_hamilton_clip.mp4"
MIRANDA = "face_recognition_examples/examples/lin-manuel-miranda.png"


def test_an_enrolled_performer_of_the_hamilton_clip_is_named_in_its_detections(
    server: LiveServer, make_config: ConfigMaker, testdata: Path
) -> None:
    headers = {"Authorization": f"Bearer {server.key('admin')}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as admin:
        person = admin.post("/api/v1/people", json={"name": "lin-manuel-miranda"}).json()
        photo = {"images": ("miranda.png", (testdata / MIRANDA).read_bytes(), "image/png")}
        assert admin.post(f"/api/v1/people/{person['id']}/faces", files=photo).is_success
    transport = RecordingTransport()
    summary, _ = run_agent(make_config("hamilton", testdata / HAMILTON), transport)
    counts = summary.cameras["hamilton"]
    named = [d for d in server.detections(camera_id="hamilton") if d["person_id"]]
    assert {d["name"] for d in named} == {"lin-manuel-miranda"}
    assert counts.first_shots > 0
    # Live alerts: a track's first shot reaches the server soon after it is queued.
    assert counts.first_shot_seconds / counts.first_shots < 1.0
