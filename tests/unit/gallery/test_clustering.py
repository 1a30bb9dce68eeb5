"""Unknown-face clustering: incremental assignment, re-clustering with constraints, ids kept."""

from __future__ import annotations

import numpy as np
import pytest

from facewatch.gallery.clustering import (
    assign_frame,
    carry_over,
    cluster,
    running_mean,
    score,
)

DIM = 8


def people(count: int, faces_each: int, spread: float = 0.05, seed: int = 0) -> np.ndarray:
    """``count`` synthetic people 1.4 apart, ``faces_each`` faces each, in person order."""
    rng = np.random.default_rng(seed)
    centres = np.eye(count, DIM, dtype=np.float32) * 1.0
    noise = rng.normal(scale=spread, size=(count * faces_each, DIM)).astype(np.float32)
    return np.repeat(centres, faces_each, axis=0) + noise


def truth(count: int, faces_each: int) -> list[int]:
    return [p for p in range(count) for _ in range(faces_each)]


# --- incremental assignment -----------------------------------------------------------
def test_a_face_joins_the_nearest_centroid_within_the_threshold() -> None:
    centroids = people(3, 1, spread=0)
    face = centroids[1:2] + 0.1
    assert assign_frame(face, centroids, threshold=0.5) == [1]


def test_a_face_far_from_every_centroid_starts_a_new_identity() -> None:
    centroids = people(3, 1, spread=0)
    face = np.full((1, DIM), 5.0, dtype=np.float32)
    assert assign_frame(face, centroids, threshold=0.5) == [None]


def test_two_faces_of_one_frame_never_join_the_same_identity() -> None:
    centroids = people(1, 1, spread=0)
    faces = np.vstack([centroids[0] + 0.05, centroids[0] + 0.1]).astype(np.float32)
    assert assign_frame(faces, centroids, threshold=0.5) == [0, None]


def test_a_forbidden_centroid_is_skipped_for_the_next_nearest() -> None:
    centroids = np.vstack([np.zeros(DIM), np.full(DIM, 0.1)]).astype(np.float32)
    face = np.zeros((1, DIM), dtype=np.float32)
    assert assign_frame(face, centroids, threshold=0.5, forbidden=[{0}]) == [1]


@pytest.mark.parametrize(
    ("faces", "centroids"),
    [(np.zeros((0, DIM)), np.zeros((2, DIM))), (np.zeros((2, DIM)), np.zeros((0, DIM)))],
    ids=["no faces", "no centroids"],
)
def test_assignment_with_nothing_on_one_side_makes_new_identities(
    faces: np.ndarray, centroids: np.ndarray
) -> None:
    assert assign_frame(faces, centroids, 0.5) == [None] * len(faces)


@pytest.mark.parametrize(("count", "expected"), [(0, 1.0), (1, 0.5), (3, 0.25), (500, 0.01)])
def test_the_running_mean_weighs_the_new_face_by_one_over_count_capped(
    count: int, expected: float
) -> None:
    moved = running_mean(np.zeros(2, np.float32), count, np.ones(2, np.float32), cap=100)
    assert moved == pytest.approx([expected, expected])


# --- re-clustering --------------------------------------------------------------------
@pytest.mark.parametrize(("count", "faces_each"), [(1, 5), (4, 6), (8, 3)])
def test_well_separated_people_cluster_one_to_one(count: int, faces_each: int) -> None:
    labels = cluster(people(count, faces_each), threshold=0.5)
    result = score(truth(count, faces_each), labels)
    assert (result.purity, result.inverse_purity, result.clusters) == (1.0, 1.0, count)


def test_faces_of_one_frame_are_split_even_when_they_look_alike() -> None:
    faces = people(1, 4)
    labels = cluster(faces, threshold=0.5, frames=["a", "a", None, None])
    assert labels[0] != labels[1]
    assert len(set(labels)) == 2


def test_a_cannot_link_pair_ends_in_different_clusters() -> None:
    labels = cluster(people(1, 6), threshold=0.5, cannot_link=[(0, 5)])
    assert labels[0] != labels[5]


def test_a_chain_of_look_alikes_is_not_joined_across_a_frame_constraint() -> None:
    # a - b - c: b links to both, but a and c were seen together in one frame.
    faces = np.array([[0.0] * DIM, [0.3] + [0.0] * 7, [0.6] + [0.0] * 7], dtype=np.float32)
    labels = cluster(faces, threshold=0.35, frames=["f", None, "f"])
    assert labels[0] != labels[2]


def test_an_empty_set_clusters_to_nothing() -> None:
    assert cluster(np.zeros((0, DIM), np.float32), 0.5) == []


def test_labels_are_numbered_by_first_appearance() -> None:
    faces = people(3, 2)[[4, 0, 2, 5, 1, 3]]
    assert cluster(faces, threshold=0.5) == [0, 1, 2, 0, 1, 2]


# --- carrying ids over ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (["u1", "u1", "u2"], [0, 0, 1], {0: "u1", 1: "u2"}),
        (["u1", "u2", "u2"], [0, 0, 0], {0: "u2"}),  # merge: the bigger share wins
        (["u1", "u1", "u1"], [0, 0, 1], {0: "u1", 1: None}),  # split: the rest is new
        ([None, None], [0, 1], {0: None, 1: None}),
        (["u1", None, None], [0, 1, 1], {0: "u1", 1: None}),
    ],
    ids=["unchanged", "merge", "split", "all new", "new faces"],
)
def test_clusters_keep_the_id_they_share_most_faces_with(
    old: list[str | None], new: list[int], expected: dict[int, str | None]
) -> None:
    assert carry_over(old, new) == expected


# --- the measure ----------------------------------------------------------------------
def test_purity_falls_when_a_cluster_mixes_two_people() -> None:
    result = score([0, 0, 1, 1, 1], [7, 7, 7, 7, 8])
    assert result.purity == pytest.approx(3 / 5)  # cluster 7: two of 0, two of 1; 8: one
    assert result.inverse_purity == pytest.approx(4 / 5)  # person 1 is split 2 + 1
    assert (result.clusters, result.identities) == (2, 2)
