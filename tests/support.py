"""Small helpers shared by tests (importable as ``support``: pytest puts tests/ on the path)."""

from __future__ import annotations

from pathlib import Path

import httpx

from facewatch.config import Settings


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
