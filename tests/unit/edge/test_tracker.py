"""Tracking: a moving face keeps its id, two faces get two, a face gone ends its track."""

from __future__ import annotations

from facewatch.edge.config import TrackerConfig
from facewatch.edge.tracker import NorfairTracker
from facewatch.edge.types import FaceCandidate
from facewatch.types import Box


def face(left: int, top: int, size: int = 60) -> FaceCandidate:
    return FaceCandidate(Box(left, top, left + size, top + size), 1.0)


def test_a_face_moving_across_frames_keeps_one_track_id() -> None:
    tracker = NorfairTracker(TrackerConfig())
    ids = {
        f.track_id for step in range(10) for f in tracker.update([face(100 + 8 * step, 50)]).faces
    }
    assert len(ids) == 1


def test_two_faces_get_two_tracks_and_keep_them() -> None:
    tracker = NorfairTracker(TrackerConfig())
    first = tracker.update([face(0, 0), face(400, 0)]).faces
    later = tracker.update([face(405, 2), face(4, 1)]).faces
    by_left = {f.box.left: f.track_id for f in first}
    assert len(set(by_left.values())) == 2
    assert {f.box.left: f.track_id for f in later} == {405: by_left[400], 4: by_left[0]}


def test_the_boxes_handed_on_are_the_detectors_own() -> None:
    tracker = NorfairTracker(TrackerConfig())
    tracker.update([face(100, 100)])
    (tracked,) = tracker.update([face(110, 104)]).faces
    assert tracked.box == face(110, 104).box


def test_a_face_that_disappears_ends_its_track_after_max_missed_frames() -> None:
    tracker = NorfairTracker(TrackerConfig(max_missed=3))
    (tracked,) = tracker.update([face(100, 100)]).faces
    ended: list[int] = []
    steps = 0
    while not ended and steps < 20:
        update = tracker.update([])
        assert update.faces == []
        ended, steps = update.ended, steps + 1
    assert ended == [tracked.track_id]
    assert 2 <= steps <= 5


def test_finishing_ends_every_live_track() -> None:
    tracker = NorfairTracker(TrackerConfig())
    faces = tracker.update([face(0, 0), face(300, 0)]).faces
    assert tracker.finish() == sorted(f.track_id for f in faces)
    assert tracker.finish() == []


def test_a_walker_close_to_the_camera_keeps_its_track_across_non_overlapping_boxes() -> None:
    tracker = NorfairTracker(TrackerConfig())
    steps = [tracker.update([face(100 + 150 * step, 700, size=106)]).faces for step in range(6)]
    assert len({f.track_id for faces in steps for f in faces}) == 1


def test_a_face_of_a_very_different_size_starts_a_new_track() -> None:
    tracker = NorfairTracker(TrackerConfig(max_scale_change=1.5))
    (small,) = tracker.update([face(100, 100, size=40)]).faces
    (large,) = tracker.update([face(100, 100, size=120)]).faces
    assert small.track_id != large.track_id
