"""The ingest's cache of stranger centroids: what a refresh takes from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import numpy as np

from facewatch.server.services.unknown_ingest import CentroidCache
from facewatch.store.embeddings import embedding_to_bytes
from facewatch.store.repositories.unknowns import CentroidRow
from facewatch.store.unit_of_work import UnitOfWork

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MODEL = "test-model"


class FakeDatabase:
    """Answers ``uow.unknowns.centroids`` with the rows it is given."""

    def __init__(self) -> None:
        self.rows: list[CentroidRow] = []

    def uow(self) -> UnitOfWork:
        unknowns = SimpleNamespace(centroids=lambda model, changed_since=None: list(self.rows))
        return cast(UnitOfWork, SimpleNamespace(unknowns=unknowns))


def _row(unknown_id: str, value: float, seconds: float, active: bool = True) -> CentroidRow:
    data = embedding_to_bytes(np.full(4, value, dtype=np.float32))
    return CentroidRow(unknown_id, data, active, T0 + timedelta(seconds=seconds))


def _centroids(cache: CentroidCache) -> dict[str, list[float]]:
    ids, matrix = cache.snapshot()
    return {unknown_id: matrix[i].tolist() for i, unknown_id in enumerate(ids)}


def test_an_identity_read_again_unchanged_keeps_the_snapshot() -> None:
    db, cache = FakeDatabase(), CentroidCache()
    db.rows = [_row("a", 1.0, 0), _row("b", 2.0, 1)]
    cache.refresh(db.uow(), MODEL)
    first = cache.snapshot()
    cache.refresh(db.uow(), MODEL)  # the same versions again (within the clocks' slack)
    assert cache.snapshot() is first


def test_a_new_version_of_an_identity_replaces_the_old() -> None:
    db, cache = FakeDatabase(), CentroidCache()
    db.rows = [_row("a", 1.0, 0), _row("b", 2.0, 1)]
    cache.refresh(db.uow(), MODEL)
    db.rows = [_row("a", 3.0, 2), _row("b", 2.0, 3, active=False)]  # "b" named
    cache.refresh(db.uow(), MODEL)
    assert _centroids(cache) == {"a": [3.0] * 4}


def test_a_centroid_changed_here_is_read_again_even_at_the_same_version() -> None:
    # e.g. a face joined "a" here, then its transaction rolled back: the database is right.
    db, cache = FakeDatabase(), CentroidCache()
    db.rows = [_row("a", 1.0, 0)]
    cache.refresh(db.uow(), MODEL)
    cache.put("a", np.full(4, 9.0, dtype=np.float32))
    cache.refresh(db.uow(), MODEL)
    assert _centroids(cache) == {"a": [1.0] * 4}
    cache.drop(["a"])
    cache.refresh(db.uow(), MODEL)
    assert _centroids(cache) == {"a": [1.0] * 4}


def test_a_cleared_cache_reads_everything_again() -> None:
    db, cache = FakeDatabase(), CentroidCache()
    db.rows = [_row("a", 1.0, 0)]
    cache.refresh(db.uow(), MODEL)
    cache.clear()
    assert _centroids(cache) == {}
    cache.refresh(db.uow(), MODEL)
    assert _centroids(cache) == {"a": [1.0] * 4}


def _vector(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def test_identities_added_named_and_moved_are_searched_as_the_database_has_them() -> None:
    # Many more identities than the first allocation, then every third one named: the
    # rows that fill the freed places must still answer for their own identities.
    rng = np.random.default_rng(3)
    cache = CentroidCache()
    truth = {f"u{i}": rng.normal(size=8).astype(np.float32) for i in range(1000)}
    for unknown_id, centroid in truth.items():
        cache.put(unknown_id, centroid)
    named = [f"u{i}" for i in range(0, 1000, 3)]
    cache.drop(named)
    for unknown_id in named:
        del truth[unknown_id]
    truth["u1"] = truth["u1"] + 0.5  # a face joined u1
    cache.put("u1", truth["u1"])
    assert len(cache) == len(truth)
    ids, matrix = cache.snapshot()
    assert {u: matrix[i].tolist() for i, u in enumerate(ids)} == {
        u: c.tolist() for u, c in truth.items()
    }
    for unknown_id in ("u1", "u2", "u998"):
        probe = (truth[unknown_id] + 0.01)[None, :]
        assert cache.nearest(probe, 0.1, [()]) == [unknown_id]
        near = dict(cache.within(probe, 0.1))
        assert list(near) == [unknown_id]
        assert near[unknown_id] < 0.1
    assert cache.nearest((truth["u2"] + 0.01)[None, :], 0.1, [{"u2"}]) == [None]


def test_two_faces_of_a_frame_never_join_one_identity() -> None:
    cache = CentroidCache()
    cache.put("a", _vector(0, 0))
    cache.put("b", _vector(10, 0))
    faces = np.stack([_vector(0.1, 0), _vector(0.2, 0)])
    assert cache.nearest(faces, 0.5, [(), ()]) == ["a", None]
    assert cache.nearest(faces, 0.5, [{"a"}, ()]) == [None, "a"]


def test_a_snapshot_is_a_copy_that_later_changes_leave_alone() -> None:
    cache = CentroidCache()
    cache.put("a", _vector(1, 1))
    cache.put("b", _vector(2, 2))
    ids, matrix = cache.snapshot()
    cache.put("a", _vector(5, 5))
    cache.drop(["a"])
    assert ids == ["a", "b"]
    assert matrix.tolist() == [[1, 1], [2, 2]]
    assert cache.snapshot()[0] == ["b"]


def test_an_empty_cache_finds_nothing() -> None:
    cache = CentroidCache()
    assert cache.nearest(_vector(0, 0)[None, :], 1.0, [()]) == [None]
    assert cache.within(_vector(0, 0)[None, :], 1.0) == []
    cache.put("a", _vector(0, 0))
    cache.drop(["a", "never-there"])
    assert cache.within(_vector(0, 0)[None, :], 1.0) == []
