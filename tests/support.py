"""Small helpers shared by tests (importable as ``support``: pytest puts tests/ on the path)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx

from facewatch.config import Settings
from facewatch.store.models import Detection
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import MatchStatus


def upload(path: Path, field: str = "image") -> dict[str, tuple[str, bytes]]:
    return {field: (path.name, path.read_bytes())}


def blob_files(settings: Settings) -> set[Path]:
    return {p for p in settings.blob_dir.rglob("*") if p.is_file()}


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """A JSON error body with a detail and a code, and the expected status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["detail"]
    if code is not None:
        assert body["code"] == code


def add_sighting(
    uow: UnitOfWork,
    captured_at: datetime,
    camera_id: str,
    *,
    person_id: int | None = None,
    unknown_id: int | None = None,
) -> Detection:
    """A stored detection of an enrolled person (``person_id``) or of a stranger (report tests)."""
    row = uow.detections.add(
        captured_at=captured_at,
        camera_id=camera_id,
        person_id=person_id,
        status=MatchStatus.KNOWN if person_id is not None else MatchStatus.UNKNOWN,
        confidence=0.9,
        box=[0, 0, 10, 10],
        quality=0.5,
    )
    row.unknown_id = unknown_id
    return row
