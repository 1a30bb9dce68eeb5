"""`facewatch edge run` as a user runs it: a clip into the live server, and bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from .conftest import LiveServer


def facewatch(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed entry point, on a wide terminal (rich wraps at the terminal's width)."""
    return subprocess.run(
        [sys.executable, "-c", "from facewatch.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )


def test_a_file_source_runs_to_its_end_and_exits_once_delivered(
    server: LiveServer, clip: Path, tmp_path: Path
) -> None:
    result = facewatch(
        "edge", "run", "--source", str(clip), "--camera-id", "street-cli",
        "--server", server.url, "--api-key", server.key("ingest"), "--fps", "1",
        "--outbox", str(tmp_path / "outbox.db"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "street-cli: 5 frames" in result.stderr
    assert server.detections(camera_id="street-cli")


def test_an_unreachable_server_leaves_the_crops_queued_and_says_so(
    clip: Path, tmp_path: Path
) -> None:
    result = facewatch(
        "edge", "run", "--source", str(clip), "--camera-id", "street-cli",
        "--server", "http://127.0.0.1:9", "--api-key", "fw_x", "--fps", "1",
        "--outbox", str(tmp_path / "outbox.db"), "--drain-timeout", "0.5",
    )  # fmt: skip
    assert result.returncode == 1
    assert "items not delivered yet" in result.stderr
    assert str(tmp_path / "outbox.db") in result.stderr


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("server: http://x\napi_key: k\ncameras: [{id: a, source: b, fsp: 3}]\n", "cameras.0.fsp"),
        ("server: http://x\napi_key: k\ncameras: []\n", "cameras"),
        ("server: http://x\ncameras: [{id: a, source: b}]\n", "api_key"),
    ],
)
def test_a_bad_edge_yaml_fails_fast_with_one_line_naming_the_key(
    tmp_path: Path, yaml_text: str, named: str
) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    result = facewatch("edge", "run", "--config", str(config))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error:")
    assert named in line


def test_source_without_camera_id_is_refused() -> None:
    result = facewatch("edge", "run", "--source", "0", "--server", "http://x", "--api-key", "k")
    assert result.returncode == 1
    assert "--source and --camera-id go together" in result.stderr


def test_realtime_without_a_source_is_refused() -> None:
    result = facewatch("edge", "run", "--realtime", "--server", "http://x", "--api-key", "k")
    assert result.returncode == 1
    assert "--realtime goes with --source" in result.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: folder / "missing.mp4", "no such video file"),
        (lambda folder: _text_file(folder / "notes.mp4"), "cannot open video"),
    ],
)
def test_a_source_that_is_no_video_fails_with_a_clear_message(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    source = make(tmp_path)
    result = facewatch(
        "edge", "run", "--source", str(source), "--camera-id", "cam", "--server",
        "http://127.0.0.1:9", "--api-key", "k", "--outbox", str(tmp_path / "o.db"),
    )  # fmt: skip
    assert result.returncode == 1
    assert f"camera cam: {message}" in result.stderr
    assert "Traceback" not in result.stderr


def _text_file(path: Path) -> Path:
    path.write_text("not a video", encoding="utf-8")
    return path


def test_record_writes_the_processed_frames_to_an_mp4(
    server: LiveServer, clip: Path, tmp_path: Path
) -> None:
    result = facewatch(
        "edge", "run", "--source", str(clip), "--camera-id", "street-rec",
        "--server", server.url, "--api-key", server.key("ingest"), "--fps", "1",
        "--outbox", str(tmp_path / "outbox.db"), "--record", str(tmp_path / "out.mp4"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    video = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) == 5  # 4.2 s at 1 fps
    assert (video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FPS)) == (1920, 1)
    video.release()


def test_show_without_a_gui_fails_fast_with_one_line(clip: Path, tmp_path: Path) -> None:
    if "GUI:                           NONE" not in cv2.getBuildInformation():
        pytest.skip("this OpenCV has a GUI")
    result = facewatch(
        "edge", "run", "--source", str(clip), "--camera-id", "cam", "--server",
        "http://127.0.0.1:9", "--api-key", "k", "--outbox", str(tmp_path / "o.db"), "--show",
    )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "opencv-python-headless" in line
    assert not (tmp_path / "o.db").exists()  # failed before opening anything


def test_mode_local_with_a_key_that_may_not_copy_the_gallery_says_why_and_still_delivers(
    server: LiveServer, clip: Path, tmp_path: Path
) -> None:
    result = facewatch(
        "edge", "run", "--mode", "local", "--source", str(clip), "--camera-id", "street-local",
        "--server", server.url, "--api-key", server.key("ingest"), "--fps", "1",
        "--outbox", str(tmp_path / "outbox.db"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "gallery sync failed (HTTP 403" in result.stderr
    assert "'gallery' scope" in result.stderr
    assert "0 local alerts" in result.stderr
    detections = server.detections(camera_id="street-local")
    assert detections
    assert all(d["crop_sha256"] is None for d in detections)  # embeddings only
