"""The frame sampler keeps the asked rate, evenly spread, and restarts after a gap."""

from __future__ import annotations

import itertools

import pytest

from facewatch.edge.sampler import FrameSampler


@pytest.mark.parametrize(
    ("source_fps", "target_fps", "kept_per_10s"),
    [(25, 6, 60), (25, 5, 50), (30, 6, 60), (25, 25, 250), (25, 50, 250), (10, 1, 10)],
)
def test_sampling_a_steady_source_keeps_the_target_rate(
    source_fps: int, target_fps: float, kept_per_10s: int
) -> None:
    sampler = FrameSampler(target_fps)
    kept = sum(sampler.keep(i / source_fps) for i in range(10 * source_fps))
    assert kept == kept_per_10s


def test_kept_frames_are_spread_evenly() -> None:
    sampler = FrameSampler(6)
    kept = [i for i in range(50) if sampler.keep(i / 25)]
    gaps = {b - a for a, b in itertools.pairwise(kept)}
    assert gaps <= {4, 5}


def test_after_a_stall_the_sampler_does_not_burst_to_catch_up() -> None:
    sampler = FrameSampler(5)
    assert sampler.keep(0.0)
    assert sampler.keep(10.0)
    assert not sampler.keep(10.05)
    assert sampler.keep(10.2)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        FrameSampler(0)
