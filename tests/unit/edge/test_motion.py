"""Motion regions: where a frame changed, padded and merged; whole passes on schedule; tracks
outside the searched regions are carried rather than missed."""

from __future__ import annotations

import numpy as np
import pytest

from facewatch.edge.config import MotionConfig, TrackerConfig
from facewatch.edge.motion import MotionGate, create_motion_gate, merge_boxes
from facewatch.edge.tracker import NorfairTracker
from facewatch.edge.types import FaceCandidate
from facewatch.types import Box, RGBImage


def scene(height: int = 1080, width: int = 1920) -> RGBImage:
    rng = np.random.default_rng(7)
    return np.repeat(
        rng.integers(60, 200, (height // 60, width // 60, 3), dtype=np.uint8), 60, 0
    ).repeat(60, 1)


def with_block(image: RGBImage, box: Box, value: int = 255) -> RGBImage:
    changed = image.copy()
    changed[box.top : box.bottom, box.left : box.right] = value
    return changed


def test_a_change_in_one_corner_is_searched_there_only() -> None:
    gate = MotionGate(threshold=0.0005, keepalive=60.0)
    still = scene()
    assert gate.check(still, 0.0).full  # the first frame: a whole pass
    walker = Box(1500, 700, 1620, 900)

    motion = gate.check(with_block(still, walker), 0.2)

    assert not motion.full
    (region,) = motion.regions
    assert region.left <= walker.left
    assert region.top <= walker.top
    assert region.right >= walker.right
    assert region.bottom >= walker.bottom
    assert region.area < 0.15 * 1920 * 1080


def test_sensor_noise_alone_is_not_motion() -> None:
    gate = MotionGate(threshold=0.002, keepalive=60.0)
    still = scene()
    gate.check(still, 0.0)
    grain = np.random.default_rng(3).normal(0, 3, still.shape)
    noisy = np.clip(still + grain, 0, 255).astype(np.uint8)

    assert not gate.check(noisy, 0.2).searched


def test_motion_over_most_of_the_frame_is_one_whole_pass() -> None:
    gate = MotionGate(threshold=0.002, keepalive=60.0, max_share=0.5)
    still = scene()
    gate.check(still, 0.0)

    assert gate.check(with_block(still, Box(0, 0, 1500, 1080)), 0.2).full


def test_whole_passes_come_every_keepalive_seconds_on_a_still_scene() -> None:
    gate = MotionGate(threshold=0.002, keepalive=2.0)
    still = scene(360, 640)
    passes = [t / 6 for t in range(60) if gate.check(still, t / 6).full]
    assert passes == pytest.approx([0.0, 2.0, 4.0, 6.0, 8.0], abs=0.2)


def test_overlapping_regions_merge_and_apart_ones_stay_apart() -> None:
    merged = merge_boxes([Box(0, 0, 10, 10), Box(5, 5, 20, 20), Box(100, 100, 110, 110)])
    assert sorted(merged, key=lambda b: b.left) == [Box(0, 0, 20, 20), Box(100, 100, 110, 110)]


def test_gating_off_makes_no_gate() -> None:
    assert create_motion_gate(MotionConfig(enabled=False)) is None
    gate = create_motion_gate(MotionConfig(enabled=True, keepalive=3.0, margin=0.1))
    assert gate is not None
    assert (gate.keepalive, gate.margin) == (3.0, 0.1)


def face(left: int, top: int, size: int = 60) -> FaceCandidate:
    return FaceCandidate(Box(left, top, left + size, top + size), 1.0)


def test_a_track_outside_the_searched_regions_is_carried_not_missed() -> None:
    tracker = NorfairTracker(TrackerConfig(max_missed=2))
    (still,) = tracker.update([face(100, 100)]).faces
    elsewhere = [Box(1000, 0, 1400, 400)]
    for step in range(10):
        update = tracker.update([face(1100 + 5 * step, 100)], searched=elsewhere)
        assert update.ended == []
        assert [f.track_id for f in tracker.carried] == [still.track_id]
        assert still.track_id not in {f.track_id for f in update.faces}
    assert tracker.carried[0].box == still.box


def test_a_track_inside_a_searched_region_without_its_face_is_missed() -> None:
    tracker = NorfairTracker(TrackerConfig(max_missed=2))
    (gone,) = tracker.update([face(100, 100)]).faces
    ended: list[int] = []
    for _ in range(6):
        ended += tracker.update([], searched=[Box(0, 0, 400, 400)]).ended
    assert ended == [gone.track_id]
    assert tracker.carried == []
