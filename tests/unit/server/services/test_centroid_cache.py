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
