"""``--record`` and ``--show``: boxes coloured by each track's best result so far."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from facewatch.edge.metrics import CameraMetrics
from facewatch.edge.observer import CameraObserver
from facewatch.edge.overlay import (
    FrameRecorder,
    TrackResult,
    TrackResults,
    Verdict,
    check_display,
    draw,
)
from facewatch.edge.types import Frame, TrackedFace
from facewatch.edge.uplink import FaceResult
from facewatch.errors import ConfigurationError
from facewatch.types import Box

BOX = Box(40, 40, 120, 140)


def frame(index: int = 0) -> Frame:
    image = np.full((240, 320, 3), 90, dtype=np.uint8)
    return Frame("cam", index, index / 6, datetime(2026, 11, 23, tzinfo=UTC), image)


def edge_colour(results: TrackResults) -> tuple[int, int, int]:
    """The BGR colour of the left edge of the box drawn for track 1."""
    image = draw(frame(), [TrackedFace(1, BOX, 0.9)], results)
    b, g, r = image[(BOX.top + BOX.bottom) // 2, BOX.left]
    return int(b), int(g), int(r)


@pytest.mark.parametrize(
    ("answers", "colour"),
    [
        ([], (0, 215, 255)),  # pending: yellow
        ([()], (0, 0, 255)),  # the server found no face: red
        ([(FaceResult("unknown"),)], (255, 64, 0)),  # nobody matched: blue
        ([(FaceResult("known", "Ada"),)], (0, 200, 0)),  # recognised: green
        ([(FaceResult("known", "Ada"),), ()], (0, 200, 0)),  # a later miss does not undo it
        ([(), (FaceResult("unknown"), FaceResult("known", "Ada"))], (0, 200, 0)),
    ],
)
def test_a_tracks_colour_is_the_best_answer_heard_for_it(
    answers: list[tuple[FaceResult, ...]], colour: tuple[int, int, int]
) -> None:
    observer = CameraObserver("cam", CameraMetrics("cam"), edge_id="e", run_id="r")
    for results in answers:
        observer.answered(1, results)
    assert edge_colour(observer.results) == colour


def test_a_recognised_track_is_labelled_with_the_name() -> None:
    named, anonymous = TrackResults(), TrackResults()
    named.note(1, TrackResult(Verdict.KNOWN, "Ada"))
    anonymous.note(1, TrackResult(Verdict.KNOWN, None))
    faces = [TrackedFace(1, BOX, 0.9)]
    label_area = (slice(BOX.top - 30, BOX.top), slice(BOX.left, BOX.left + 120))
    assert not np.array_equal(
        draw(frame(), faces, named)[label_area], draw(frame(), faces, anonymous)[label_area]
    )


def test_the_recorder_writes_a_playable_mp4_of_every_frame(tmp_path: Path) -> None:
    recorder = FrameRecorder(tmp_path / "out.mp4", fps=6)
    for index in range(7):
        recorder.write(draw(frame(index), [TrackedFace(1, BOX, 0.9)], TrackResults()))
    recorder.close()
    video = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) == 7
    assert video.get(cv2.CAP_PROP_FPS) == 6
    video.release()


def test_show_without_a_gui_fails_fast_in_one_line() -> None:
    info = cv2.getBuildInformation()
    if "GUI:                           NONE" not in info:
        pytest.skip("this OpenCV has a GUI: the headless message does not apply")
    with pytest.raises(ConfigurationError) as caught:
        check_display()
    assert "opencv-python-headless" in caught.value.message
    assert "\n" not in caught.value.message
