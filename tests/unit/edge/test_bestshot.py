"""Shot policies: what `best` sends of a track, and that `every-frame` sends everything."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from facewatch.edge.bestshot import (
    BestShotPolicy,
    EveryFramePolicy,
    ShotVerdict,
    create_policy,
    shot_verdict,
)
from facewatch.edge.config import BestShotConfig
from facewatch.edge.types import Shot, ShotReason
from facewatch.types import Box, Quality

CONFIG = BestShotConfig(
    min_quality=0.05, improvement=0.5, min_gain=0.1, max_shots=3, confirm_frames=1
)
CONFIRMED = CONFIG.model_copy(update={"confirm_frames": 2})


def make_shot(track_id: int, score: float, frame_index: int = 0) -> Shot:
    """A shot of ``track_id`` whose quality score is ``score`` (its pixels do not matter)."""
    return Shot(
        camera_id="cam",
        track_id=track_id,
        frame_index=frame_index,
        captured_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        box=Box(0, 0, 10, 10),
        crop=np.zeros((20, 20, 3), dtype=np.uint8),
        face_in_crop=Box(5, 5, 15, 15),
        chip=np.zeros((150, 150, 3), dtype=np.uint8),
        quality=Quality(score=score, size=10, sharpness=50.0, yaw=0.0, roll=0.0),
    )


def run(scores: list[float], config: BestShotConfig = CONFIG) -> list[tuple[str, float, int]]:
    """Feed one track's scores frame by frame, end it; (reason, score, sequence) sent."""
    policy = BestShotPolicy(config)
    sent = []
    for index, score in enumerate(scores):
        sent += policy.observe([make_shot(1, score, index)])
    sent += policy.end([1])
    return [(d.reason.value, d.shot.quality.score, d.sequence) for d in sent]


def test_without_confirmation_the_first_usable_shot_is_sent_at_once() -> None:
    policy = BestShotPolicy(CONFIG)
    sent = policy.observe([make_shot(1, 0.2)])
    assert [d.reason for d in sent] == [ShotReason.FIRST]


def test_a_steady_track_sends_one_shot() -> None:
    assert run([0.3, 0.31, 0.29, 0.32, 0.3]) == [("first", 0.3, 0)]


def test_a_markedly_better_shot_is_sent_while_the_track_lives() -> None:
    assert run([0.2, 0.22, 0.45, 0.46]) == [("first", 0.2, 0), ("better", 0.45, 1)]


def test_a_small_relative_gain_is_not_enough() -> None:
    # +0.1 absolute but only +20%: not marked enough.
    assert run([0.5, 0.6]) == [("first", 0.5, 0)]


def test_the_best_unsent_shot_goes_out_when_the_track_ends() -> None:
    # 0.55 is not 50% over 0.4 during the track, but beats every sent shot by >= min_gain.
    assert run([0.4, 0.55, 0.5]) == [("first", 0.4, 0), ("final", 0.55, 1)]


def test_the_cap_bounds_the_shots_of_a_track_final_included() -> None:
    scores = [0.1, 0.2, 0.35, 0.6, 0.9]
    sent = run(scores)
    assert len(sent) == CONFIG.max_shots
    assert [reason for reason, _, _ in sent] == ["first", "better", "final"]
    assert sent[-1][1] == 0.9


def test_shots_under_the_quality_floor_are_never_sent() -> None:
    assert run([0.01, 0.02, 0.04]) == []


def test_tracks_are_independent() -> None:
    policy = BestShotPolicy(CONFIG)
    sent = policy.observe([make_shot(1, 0.3), make_shot(2, 0.3)])
    assert sorted(d.shot.track_id for d in sent) == [1, 2]


def test_an_ended_track_that_comes_back_starts_afresh() -> None:
    policy = BestShotPolicy(CONFIG)
    policy.observe([make_shot(1, 0.3)])
    policy.end([1])
    again = policy.observe([make_shot(1, 0.3)])
    assert [(d.reason, d.sequence) for d in again] == [(ShotReason.FIRST, 0)]


def test_a_confirmed_track_sends_the_better_of_its_first_sightings() -> None:
    policy = BestShotPolicy(CONFIRMED)
    assert policy.observe([make_shot(1, 0.3, 0)]) == []
    (first,) = policy.observe([make_shot(1, 0.2, 1)])
    assert (first.reason, first.shot.quality.score, first.sequence) == (ShotReason.FIRST, 0.3, 0)


def test_a_track_seen_once_sends_nothing_even_when_it_ends() -> None:
    assert run([0.5], CONFIRMED) == []


def test_confirmation_counts_only_usable_sightings() -> None:
    assert run([0.3, 0.01, 0.02], CONFIRMED) == []
    assert run([0.3, 0.01, 0.35], CONFIRMED) == [("first", 0.35, 0)]


def test_every_frame_sends_every_shot_with_a_running_sequence() -> None:
    policy = EveryFramePolicy()
    sent = []
    for index in range(4):
        sent += policy.observe([make_shot(1, 0.3, index), make_shot(2, 0.01, index)])
    assert len(sent) == 8
    assert [d.sequence for d in sent if d.shot.track_id == 1] == [0, 1, 2, 3]
    assert policy.end([1, 2]) == []


def test_the_factory_builds_each_policy_by_name() -> None:
    assert isinstance(create_policy("best", CONFIG), BestShotPolicy)
    assert isinstance(create_policy("every-frame", CONFIG), EveryFramePolicy)


def answered_run(
    scores: list[float], answers: dict[int, ShotVerdict], config: BestShotConfig = CONFIG
) -> list[tuple[str, float, int]]:
    """As ``run``, the server answering shot ``sequence`` with ``answers[sequence]`` as soon
    as it is sent (before the next frame)."""
    policy = BestShotPolicy(config)
    sent = []
    for index, score in enumerate(scores):
        for dispatch in policy.observe([make_shot(1, score, index)]):
            sent.append(dispatch)
            if dispatch.sequence in answers:
                policy.answered(1, dispatch.sequence, answers[dispatch.sequence])
    sent += policy.end([1])
    return [(d.reason.value, d.shot.quality.score, d.sequence) for d in sent]


def test_an_uncertain_first_shot_sends_the_next_usable_shot_at_once() -> None:
    # 0.28 is no better than 0.3, but the server could not decide on the first shot.
    sent = answered_run([0.3, 0.28, 0.29], {0: ShotVerdict.UNCERTAIN})
    assert sent == [("first", 0.3, 0), ("retry", 0.28, 1)]


@pytest.mark.parametrize("verdict", [ShotVerdict.NAMED, ShotVerdict.NO_FACE])
def test_a_decided_or_faceless_first_shot_waits_for_a_better_one(verdict: ShotVerdict) -> None:
    assert answered_run([0.3, 0.28, 0.29], {0: verdict}) == [("first", 0.3, 0)]


def test_retries_keep_the_last_shot_of_the_cap_for_the_end() -> None:
    uncertain = {n: ShotVerdict.UNCERTAIN for n in range(3)}
    sent = answered_run([0.3, 0.28, 0.29, 0.27, 0.5], uncertain)
    assert sent == [("first", 0.3, 0), ("retry", 0.28, 1), ("final", 0.5, 2)]


def test_an_answer_to_an_older_shot_asks_for_nothing() -> None:
    policy = BestShotPolicy(CONFIG)
    policy.observe([make_shot(1, 0.2, 0)])
    policy.observe([make_shot(1, 0.45, 1)])  # "better", sequence 1
    policy.answered(1, 0, ShotVerdict.UNCERTAIN)  # late answer to shot 0
    assert policy.observe([make_shot(1, 0.44, 2)]) == []


def test_an_answer_for_a_track_that_ended_is_dropped() -> None:
    policy = BestShotPolicy(CONFIG)
    policy.observe([make_shot(1, 0.3, 0)])
    policy.end([1])
    policy.answered(1, 0, ShotVerdict.UNCERTAIN)
    sent = policy.observe([make_shot(1, 0.3, 1)])  # the id comes back as a new track
    assert [(d.reason, d.sequence) for d in sent] == [(ShotReason.FIRST, 0)]


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ([], ShotVerdict.NO_FACE),
        (["uncertain"], ShotVerdict.UNCERTAIN),
        (["uncertain", "unknown"], ShotVerdict.UNCERTAIN),
        (["uncertain", "known"], ShotVerdict.NAMED),
        (["unknown"], ShotVerdict.NAMED),
        (["known"], ShotVerdict.NAMED),
    ],
)
def test_the_verdict_on_a_shot_comes_from_its_faces_statuses(
    statuses: list[str], verdict: ShotVerdict
) -> None:
    assert shot_verdict(statuses) is verdict
