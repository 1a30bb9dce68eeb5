"""Two processes on one database (replicas, or the CLI beside the server) agree on strangers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services.ingest import IngestRequest, ingest
from facewatch.server.services.unknowns import delete_unknown
from integration.unknowns.faces import jpeg


@pytest.fixture(scope="module")
def other(runtime: Runtime, settings: Settings) -> Iterator[Runtime]:
    """A second runtime on the same database and blobs, with caches of its own."""
    second = Runtime.open(settings)
    assert second.db is not runtime.db
    yield second
    second.close()


def send(runtime: Runtime, photo: bytes, camera_id: str) -> str | None:
    [face] = ingest(runtime, IngestRequest(photo, camera_id, None)).detections
    return face.unknown_id


def test_a_stranger_made_by_one_replica_is_joined_on_another(
    runtime: Runtime, other: Runtime, knn: Path
) -> None:
    first = send(runtime, jpeg(knn / "train/rose_leslie/img1.jpg"), "gate")
    second = send(other, jpeg(knn / "train/rose_leslie/img2.jpg"), "lobby")
    assert first is not None
    assert second == first


def test_a_stranger_deleted_on_one_replica_is_not_joined_on_the_other(
    runtime: Runtime, other: Runtime, knn: Path
) -> None:
    first = send(other, jpeg(knn / "train/alex_lacamoire/img1.jpg"), "gate")
    assert first is not None
    delete_unknown(runtime, first)  # the other replica still has it in its cache
    again = send(other, jpeg(knn / "train/alex_lacamoire/img1.jpg"), "gate")
    assert again not in (None, first)
