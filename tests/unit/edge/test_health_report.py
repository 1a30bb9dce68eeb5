"""The agent's heartbeat figures, its error log, its frame tap and its stills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from facewatch.edge.health import (
    MAX_ERROR_LENGTH,
    CameraInfo,
    ErrorLog,
    FrameTap,
    HealthMonitor,
    encode_still,
)
from facewatch.edge.metrics import CameraMetrics
from facewatch.edge.outbox import ItemKind, Outbox, OutboxItem
from facewatch.edge.types import Frame


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.db", max_bytes=10_000_000)


def item(key: str) -> OutboxItem:
    return OutboxItem(key, ItemKind.CROP, "gate", datetime.now(UTC), b"\xff\xd8jpeg", "image/jpeg")


def test_rates_cover_the_time_since_the_previous_heartbeat(outbox: Outbox) -> None:
    clock, metrics, errors = Clock(), CameraMetrics("gate"), ErrorLog()
    monitor = HealthMonitor(
        "site-a",
        {"gate": CameraInfo("onnx", metrics)},
        outbox,
        errors,
        interval=30,
        embedder=lambda: "edgeface_xs_int8",
        clock=clock,
    )
    metrics.add(frames_in=250, frames_processed=60, candidates=20, frames_dropped=4)
    clock.now += 10
    first = monitor.heartbeat()
    [camera] = first["cameras"]  # type: ignore[misc]
    assert (camera["fps_in"], camera["fps_processed"]) == (25.0, 6.0)
    assert camera["detections_per_minute"] == 120.0
    assert camera["frames_dropped"] == 4
    assert camera["detector"] == "onnx"
    assert (first["edge_id"], first["embedder"], first["interval_seconds"]) == (
        "site-a",
        "edgeface_xs_int8",
        30,
    )

    metrics.add(frames_in=50, frames_dropped=1)  # 20 s later: 2.5 frames a second, none searched
    clock.now += 20
    [camera] = monitor.heartbeat()["cameras"]  # type: ignore[misc]
    assert (camera["fps_in"], camera["fps_processed"], camera["frames_dropped"]) == (2.5, 0.0, 5)


def test_the_outbox_depth_and_the_age_of_its_oldest_item_are_reported(outbox: Outbox) -> None:
    monitor = HealthMonitor("site-a", {}, outbox, ErrorLog(), interval=30)
    assert (monitor.heartbeat()["outbox_depth"], monitor.heartbeat()["outbox_oldest_seconds"]) == (
        0,
        None,
    )
    outbox.put(item("a"))
    outbox.put(item("b"))
    body = monitor.heartbeat()
    assert body["outbox_depth"] == 2
    assert isinstance(body["outbox_oldest_seconds"], float)
    assert 0 <= body["outbox_oldest_seconds"] < 60


def test_a_camera_reports_the_newer_of_its_own_error_and_the_agents() -> None:
    errors = ErrorLog()
    assert errors.last("gate") is None
    errors.note("delivery failed: ConnectError")
    assert errors.last("gate") is not None
    assert errors.last("gate")[0] == "delivery failed: ConnectError"  # type: ignore[index]
    errors.note("camera stopped: no such file", "gate")
    assert errors.last("gate")[0] == "camera stopped: no such file"  # type: ignore[index]
    assert errors.last("yard")[0] == "delivery failed: ConnectError"  # type: ignore[index]


def test_an_error_is_kept_on_one_line_and_at_most_as_long_as_the_server_keeps() -> None:
    errors = ErrorLog()
    errors.note("Traceback:\n  line 1\n" + "x" * 1000, "gate")
    text, at = errors.last("gate")  # type: ignore[misc]
    assert "\n" not in text
    assert len(text) == MAX_ERROR_LENGTH
    assert datetime.now(UTC) - at < timedelta(seconds=5)


def frame(camera_id: str = "gate") -> Frame:
    image = np.zeros((1080, 1920, 3), dtype=np.uint8)
    return Frame(camera_id, 0, 0.0, datetime.now(UTC), image)


@pytest.mark.parametrize(("enabled", "kept"), [(False, False), (True, True)])
def test_the_frame_tap_keeps_frames_only_when_stills_are_on(enabled: bool, kept: bool) -> None:
    tap = FrameTap(enabled)
    tap.offer(frame())
    assert (tap.take("gate") is not None) is kept
    assert tap.take("gate") is None  # taken once


def test_a_still_is_a_jpeg_scaled_to_the_width_asked_for() -> None:
    image = np.full((1080, 1920, 3), (200, 30, 30), dtype=np.uint8)  # red, in RGB
    jpeg = encode_still(image, 640, 75)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (360, 640, 3)
    blue, _, red = (int(v) for v in decoded[180, 320])
    assert red > 150  # the colours stay where they were
    assert blue < 80
    small = np.zeros((240, 320, 3), dtype=np.uint8)
    assert cv2.imdecode(np.frombuffer(encode_still(small, 640, 75), np.uint8), 1).shape[1] == 320
