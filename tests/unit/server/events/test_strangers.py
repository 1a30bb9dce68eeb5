"""Strangers: sightings of one unknown face share an id; other faces get their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from facewatch.server.events.strangers import Strangers

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def face(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(vector: np.ndarray, distance: float) -> np.ndarray:
    step = np.zeros_like(vector)
    step[0] = distance
    return vector + step


def test_a_close_face_is_the_same_stranger_on_any_camera() -> None:
    strangers = Strangers(threshold=lambda: 0.5)
    first = strangers.identify(T0, face(1), "gate")
    assert strangers.identify(T0, near(face(1), 0.3), "hall") == first


def test_a_distant_face_is_another_stranger() -> None:
    strangers = Strangers(threshold=lambda: 0.5)
    assert strangers.identify(T0, face(1)) != strangers.identify(T0, face(2))


def test_an_edge_track_keeps_its_stranger_without_an_embedding() -> None:
    strangers = Strangers(threshold=lambda: 0.5)
    first = strangers.identify(T0, face(1), "gate", track_id="t1")
    assert strangers.identify(T0, None, "gate", track_id="t1") == first
    assert strangers.identify(T0, None, "hall", track_id="t1") != first


def test_strangers_are_forgotten_after_the_memory() -> None:
    strangers = Strangers(threshold=lambda: 0.5, memory=timedelta(minutes=10))
    first = strangers.identify(T0, face(1))
    assert strangers.identify(T0 + timedelta(minutes=11), face(1)) != first


def test_the_memory_is_bounded() -> None:
    strangers = Strangers(threshold=lambda: 0.5, max_strangers=3)
    for seed in range(10):
        strangers.identify(T0 + timedelta(seconds=seed), face(seed))
    assert len(strangers) == 3
