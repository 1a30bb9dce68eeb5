"""Unknown-face clustering: strangers get identities that persist. Pure: arrays in, labels out.

Two halves:

* **Incremental** (every ingested frame): each unknown face joins the nearest identity
  centroid within a threshold, else starts a new identity (``assign_frame``). Two faces of
  one frame never join the same identity.
* **Re-clustering** (periodic): dlib's Chinese Whispers over the graph that links faces
  within the threshold (each face keeps its ``max_neighbors`` nearest links), then every
  cluster that holds two faces which must stay apart (same frame, or an operator's "not X")
  is split (``cluster``). ``carry_over`` then maps the new clusters onto the old identities
  so that ids survive: a cluster keeps the id it shares most faces with.

Distances are Euclidean, as everywhere in the gallery.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from facewatch.types import Embedding

FloatMatrix = npt.NDArray[np.float32]

MAX_NEIGHBORS = 30
"""Links kept per face in the re-clustering graph: bounds memory for very large clusters."""
_BLOCK = 1024
"""Rows of the distance matrix computed at once (1024 x n float32)."""
_FEW = 32
"""Up to this many query rows, distances are computed without BLAS (see below)."""


# --- incremental assignment -----------------------------------------------------------
def assign_frame(
    faces: FloatMatrix,
    centroids: FloatMatrix,
    threshold: float,
    forbidden: Sequence[Iterable[int]] = (),
) -> list[int | None]:
    """For each face of one frame, the index of the centroid it joins, or ``None`` (new).

    Greedy by distance: the closest (face, centroid) pair within ``threshold`` is settled
    first, and a centroid goes to one face of the frame at most. ``forbidden[i]`` lists
    centroids face ``i`` may not join.
    """
    faces = _matrix(faces)
    if len(faces) == 0:
        return []
    if len(centroids) == 0:
        return [None] * len(faces)
    distances = pairwise_distances(faces, _matrix(centroids))
    for face_no, blocked in enumerate(forbidden):
        for centroid_no in blocked:
            distances[face_no, centroid_no] = np.inf
    face_nos, centroid_nos = np.nonzero(distances <= threshold)
    order = np.argsort(distances[face_nos, centroid_nos], kind="stable")
    chosen: list[int | None] = [None] * len(faces)
    taken: set[int] = set()
    for k in order.tolist():
        face_no, centroid_no = int(face_nos[k]), int(centroid_nos[k])
        if chosen[face_no] is None and centroid_no not in taken:
            chosen[face_no] = centroid_no
            taken.add(centroid_no)
    return chosen


def running_mean(centroid: Embedding, count: int, face: Embedding, cap: int = 100) -> Embedding:
    """The centroid after ``face`` joins ``count`` faces; beyond ``cap`` faces it becomes a
    moving average, so that it follows a face whose look drifts (light, season, beard)."""
    weight = 1.0 / min(count + 1, cap)
    moved = centroid.astype(np.float32) + (face.astype(np.float32) - centroid) * weight
    return moved.astype(np.float32)


# --- re-clustering --------------------------------------------------------------------
def cluster(
    embeddings: FloatMatrix,
    threshold: float,
    frames: Sequence[Hashable | None] | None = None,
    cannot_link: Iterable[tuple[int, int]] = (),
    max_neighbors: int = MAX_NEIGHBORS,
) -> list[int]:
    """Cluster labels ``0..k-1`` (by first appearance) for every embedding.

    Faces with the same non-``None`` ``frames`` key, and the pairs of ``cannot_link``, never
    end in one cluster.
    """
    vectors = _matrix(embeddings)
    n = len(vectors)
    if n == 0:
        return []
    codes = _frame_codes(frames, n)
    apart = {(min(a, b), max(a, b)) for a, b in cannot_link if a != b}
    neighbors = _neighbor_graph(vectors, threshold, codes, apart, max_neighbors)
    labels = _chinese_whispers(neighbors)
    groups = _groups(labels)
    partners: dict[int, set[int]] = {}
    for a, b in apart:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    split: list[list[int]] = []
    for members in groups:
        split += _split_conflicts(members, neighbors, codes, partners)
    return _labels_of(split, n)


def carry_over(old: Sequence[str | None], new: Sequence[int]) -> dict[int, str | None]:
    """Which old label each new cluster keeps: the one it shares most faces with.

    An old label goes to one cluster at most (the one holding most of its faces); a cluster
    left without one maps to ``None`` (it needs a new label).
    """
    overlaps = Counter((cluster_no, label) for cluster_no, label in zip(new, old, strict=True))
    ranked = sorted(
        ((count, cluster_no, label) for (cluster_no, label), count in overlaps.items() if label),
        key=lambda item: (-item[0], item[1], item[2] or ""),
    )
    mapping: dict[int, str | None] = dict.fromkeys(new)
    used: set[str] = set()
    for _, cluster_no, label in ranked:
        if mapping[cluster_no] is None and label is not None and label not in used:
            mapping[cluster_no] = label
            used.add(label)
    return mapping


# --- measures -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClusteringScore:
    """How well labels match the truth: purity, inverse purity, and the counts."""

    purity: float
    """Share of faces in the majority true identity of their cluster (1.0: no cluster mixes)."""
    inverse_purity: float
    """Share of faces in the largest cluster of their true identity (1.0: nobody is split)."""
    clusters: int
    identities: int


def score(truth: Sequence[Hashable], labels: Sequence[Hashable]) -> ClusteringScore:
    """Purity and inverse purity of ``labels`` against ``truth``."""
    if len(truth) != len(labels) or not truth:
        raise ValueError("truth and labels must be equally long and not empty")
    pairs = Counter(zip(labels, truth, strict=True))
    return ClusteringScore(
        purity=_majority_share(pairs, len(truth), by_label=True),
        inverse_purity=_majority_share(pairs, len(truth), by_label=False),
        clusters=len(set(labels)),
        identities=len(set(truth)),
    )


def _majority_share(pairs: Counter[tuple[Hashable, Hashable]], total: int, by_label: bool) -> float:
    best: dict[Hashable, int] = {}
    for (label, true), count in pairs.items():
        key = label if by_label else true
        best[key] = max(best.get(key, 0), count)
    return sum(best.values()) / total


# --- helpers --------------------------------------------------------------------------
def pairwise_distances(a: FloatMatrix, b: FloatMatrix) -> FloatMatrix:
    """Euclidean distances between the rows of ``a`` and of ``b`` (``len(a) x len(b)``)."""
    # A few queries (one frame's faces): einsum stays on this thread, where BLAS would wake
    # its thread pool for a thin product, 10-30x slower on a busy machine.
    products = np.einsum("kd,nd->kn", a, b) if len(a) <= _FEW else a @ b.T
    squared = (
        np.einsum("kd,kd->k", a, a)[:, None] + np.einsum("nd,nd->n", b, b)[None, :] - 2 * products
    )
    distances: FloatMatrix = np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
    return distances


def _matrix(values: FloatMatrix) -> FloatMatrix:
    array = np.asarray(values, dtype=np.float32)
    return array.reshape(len(array), -1) if array.size else array.reshape(len(array), 0)


def _frame_codes(frames: Sequence[Hashable | None] | None, n: int) -> npt.NDArray[np.int64]:
    """An integer per face: equal for faces of one frame, ``-1 - i`` (unique) for no frame."""
    if frames is None:
        return -1 - np.arange(n, dtype=np.int64)
    if len(frames) != n:
        raise ValueError("frames must have one entry per embedding")
    seen: dict[Hashable, int] = {}
    codes = [
        seen.setdefault(key, len(seen)) if key is not None else -1 - i
        for i, key in enumerate(frames)
    ]
    return np.array(codes, dtype=np.int64)


def _neighbor_graph(
    vectors: FloatMatrix,
    threshold: float,
    codes: npt.NDArray[np.int64],
    apart: set[tuple[int, int]],
    max_neighbors: int,
) -> list[set[int]]:
    """Each face's nearest faces within ``threshold`` (never one of its own frame)."""
    n = len(vectors)
    neighbors: list[set[int]] = [set() for _ in range(n)]
    norms = np.einsum("ij,ij->i", vectors, vectors)
    for start in range(0, n, _BLOCK):
        rows = np.arange(start, min(start + _BLOCK, n))
        squared = norms[rows][:, None] + norms[None, :] - 2 * vectors[rows] @ vectors.T
        distances = np.sqrt(np.maximum(squared, 0.0))
        distances[codes[rows][:, None] == codes[None, :]] = np.inf  # itself and its frame
        for row, row_distances in zip(rows.tolist(), distances, strict=True):
            for other in _nearest_within(row_distances, threshold, max_neighbors):
                if (min(row, other), max(row, other)) not in apart:
                    neighbors[row].add(other)
                    neighbors[other].add(row)
    return neighbors


def _nearest_within(distances: FloatMatrix, threshold: float, k: int) -> list[int]:
    within = np.flatnonzero(distances <= threshold)
    if len(within) > k:
        within = within[np.argpartition(distances[within], k - 1)[:k]]
    return [int(i) for i in within]


def _chinese_whispers(neighbors: list[set[int]]) -> list[int]:
    """dlib's Chinese Whispers on the graph (deterministic: dlib seeds its own generator)."""
    import dlib  # a heavy import, needed only here

    edges: list[tuple[int, int]] = [(i, i) for i in range(len(neighbors))]
    edges += [(i, j) for i, linked in enumerate(neighbors) for j in linked if i < j]
    return [int(label) for label in dlib.chinese_whispers(edges)]


def _groups(labels: Sequence[int]) -> list[list[int]]:
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    return list(members.values())


def _split_conflicts(
    members: list[int],
    neighbors: list[set[int]],
    codes: npt.NDArray[np.int64],
    partners: dict[int, set[int]],
) -> list[list[int]]:
    """Split a cluster so that no part holds two faces that must stay apart.

    The best-linked faces go first; each face joins the part it has most links to among
    those it may join, or starts a part of its own.
    """
    if not _has_conflict(members, codes, partners):
        return [members]
    parts: list[list[int]] = []
    part_sets: list[set[int]] = []
    for face in sorted(members, key=lambda m: (-len(neighbors[m]), m)):
        best, best_links = -1, 0
        for part_no, part in enumerate(part_sets):
            links = len(neighbors[face] & part)
            if links > best_links and not _conflicts_with(face, part, codes, partners):
                best, best_links = part_no, links
        if best < 0:
            parts.append([face])
            part_sets.append({face})
        else:
            parts[best].append(face)
            part_sets[best].add(face)
    return [sorted(part) for part in parts]


def _has_conflict(
    members: list[int], codes: npt.NDArray[np.int64], partners: dict[int, set[int]]
) -> bool:
    if len(set(codes[members].tolist())) < len(members):
        return True
    chosen = set(members)
    return any(not partners.get(face, set()).isdisjoint(chosen) for face in members)


def _conflicts_with(
    face: int, part: set[int], codes: npt.NDArray[np.int64], partners: dict[int, set[int]]
) -> bool:
    code = codes[face]
    if not partners.get(face, set()).isdisjoint(part):
        return True
    return any(codes[other] == code for other in part)


def _labels_of(groups: list[list[int]], n: int) -> list[int]:
    """Labels numbered by the first face of each group, in face order."""
    labels = [-1] * n
    for group_no, group in enumerate(sorted(groups, key=min)):
        for face in group:
            labels[face] = group_no
    return labels
