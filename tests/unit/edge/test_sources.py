"""Frame sources: files end, live streams reconnect with backoff, folders yield new images."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pytest
from PIL import Image

from facewatch.edge.sources import (
    FolderSource,
    LiveCaptureSource,
    VideoFileSource,
    open_source,
)
from facewatch.errors import ConfigurationError, FacewatchError


class FakeCapture:
    """A capture that yields ``frames`` frames, then drops (as a stream that dies)."""

    def __init__(self, frames: int, opened: bool = True) -> None:
        self.left = frames
        self.opened = opened
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opened

    def grab(self) -> bool:
        self.left -= 1
        return self.left >= 0

    def retrieve(self) -> tuple[bool, np.ndarray]:
        return True, np.full((8, 8, 3), (0, 0, 255), dtype=np.uint8)  # BGR red

    def get(self, prop_id: int) -> float:
        return 0.0

    def release(self) -> None:
        self.released = True


class FakeOpener:
    """Hands out captures in order: each int is a session of that many frames, None fails."""

    def __init__(self, sessions: list[int | None]) -> None:
        self.sessions = sessions
        self.opened: list[FakeCapture] = []

    def __call__(self, target: str | int) -> FakeCapture:
        frames = self.sessions.pop(0) if self.sessions else None
        capture = FakeCapture(frames or 0, opened=frames is not None)
        self.opened.append(capture)
        return capture


def write_video(path: Path, frames: int, fps: float = 25.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    for n in range(frames):
        writer.write(np.full((48, 64, 3), n * 8 % 256, dtype=np.uint8))
    writer.release()


def test_a_stream_that_dies_is_reopened_and_goes_on() -> None:
    opener = FakeOpener([3, None, 2])
    source = LiveCaptureSource("rtsp://cam/1", "cam", opener=opener, backoff_initial=0.001)
    frames = []
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == 5:
            source.stop()
    assert len(frames) == 5
    assert source.reconnects == 2
    assert all(capture.released for capture in opener.opened)
    assert frames[0].image[0, 0].tolist() == [255, 0, 0]  # delivered as RGB


def test_a_stream_that_never_comes_back_gives_up_after_max_reconnects() -> None:
    source = LiveCaptureSource(
        "rtsp://cam/1", "cam", opener=FakeOpener([1]), backoff_initial=0.001, max_reconnects=2
    )
    with pytest.raises(FacewatchError, match="no frame in 3 attempts"):
        list(source.frames())


def test_reconnect_waits_grow_and_are_capped() -> None:
    source = LiveCaptureSource("0", "cam", backoff_initial=1, backoff_max=5)
    waits: list[float] = []
    source._stop.wait = lambda delay: waits.append(delay) or False  # type: ignore[method-assign]
    for failures in range(1, 6):
        source._wait(failures)
    assert waits == [1, 2, 4, 5, 5]


def test_credentials_in_a_stream_url_are_never_logged() -> None:
    source = LiveCaptureSource("rtsp://admin:secret@10.0.0.5/stream", "cam")
    assert "secret" not in source._safe_target


def test_a_video_file_ends_and_positions_follow_its_frame_rate(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    write_video(path, frames=10, fps=25)
    source = VideoFileSource(path, "cam")
    frames = list(source.frames(keep=lambda position: position < 0.2))
    assert [frame.index for frame in frames] == [0, 1, 2, 3, 4]
    assert frames[1].position == pytest.approx(0.04)
    assert (frames[1].captured_at - frames[0].captured_at).total_seconds() == pytest.approx(0.04)


def test_a_video_file_played_in_real_time_takes_about_its_duration(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    write_video(path, frames=26, fps=25)  # the last frame is at 1.0 s
    source = VideoFileSource(path, "cam", realtime=True)
    assert source.live
    assert source.finite
    started = time.monotonic()
    arrivals = [(frame, time.monotonic() - started) for frame in source.frames()]
    elapsed = time.monotonic() - started
    assert len(arrivals) == 26
    assert 0.95 <= elapsed < 1.5
    assert all(arrived >= frame.position - 0.01 for frame, arrived in arrivals)
    first, last = arrivals[0][0], arrivals[-1][0]
    assert first.captured_at == pytest.approx(source.started_at, abs=timedelta(seconds=0.05))
    assert (last.captured_at - first.captured_at).total_seconds() == pytest.approx(1.0)


def test_a_video_file_read_at_full_speed_does_not_wait(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    write_video(path, frames=26, fps=25)
    started = time.monotonic()
    assert len(list(VideoFileSource(path, "cam").frames())) == 26
    assert time.monotonic() - started < 0.5


def test_stopping_a_real_time_file_ends_it_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    write_video(path, frames=250, fps=25)  # 10 s
    source = VideoFileSource(path, "cam", realtime=True)
    threading.Timer(0.3, source.stop).start()
    started = time.monotonic()
    frames = list(source.frames())
    assert time.monotonic() - started < 1.0
    assert 0 < len(frames) < 20


def test_a_missing_video_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such video file"):
        VideoFileSource(tmp_path / "nope.mp4", "cam")


def test_a_watched_folder_yields_files_already_there_and_new_ones(tmp_path: Path) -> None:
    Image.new("RGB", (32, 24), "red").save(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    source = FolderSource(tmp_path, "cam", poll_interval=0.01)
    frames = source.frames()
    first = next(frames)
    Image.new("RGB", (32, 24), "blue").save(tmp_path / "b.png")
    second = next(frames)
    source.stop()
    assert first.image.shape == (24, 32, 3)
    assert second.image[0, 0].tolist() == [0, 0, 255]
    assert (first.index, second.index) == (0, 1)


def test_a_corrupt_file_in_the_folder_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    source = FolderSource(tmp_path, "cam", poll_interval=0.01)
    timer = threading.Timer(0.3, source.stop)
    timer.start()
    assert list(source.frames()) == []


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("0", LiveCaptureSource),
        ("rtsp://cam/stream", LiveCaptureSource),
        ("http://cam/mjpeg", LiveCaptureSource),
        ("{folder}", FolderSource),
        ("{video}", VideoFileSource),
    ],
)
def test_the_source_string_picks_the_source(tmp_path: Path, spec: str, kind: type) -> None:
    write_video(tmp_path / "v.avi", frames=1)
    text = spec.format(folder=tmp_path, video=tmp_path / "v.avi")
    assert type(open_source(text, "cam")) is kind


def test_realtime_from_the_config_reaches_a_file_source_only(tmp_path: Path) -> None:
    write_video(tmp_path / "v.avi", frames=1)
    played = open_source(str(tmp_path / "v.avi"), "cam", realtime=True)
    assert isinstance(played, VideoFileSource)
    assert played.realtime
    assert not cast(VideoFileSource, open_source(str(tmp_path / "v.avi"), "cam")).live
    assert isinstance(open_source(str(tmp_path), "cam", realtime=True), FolderSource)
