"""The real app over httpx on SQLite and PostgreSQL, with helpers to ingest real faces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings
from facewatch.server.app import create_app
from facewatch.server.infra.runtime import Runtime
from integration.unknowns.faces import Ingest

KNN = "face_recognition_examples/examples/knn_examples"
JOHNS = "dlib_faces/johns"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, app_database_url: str | None) -> Settings:
    """Analysis in the request thread (no worker processes) and no scheduled re-clustering:
    the tests call it when they mean to."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("facewatch-data"),
        database_url=app_database_url,
        analysis_workers=0,
        unknown_recluster_interval=0,
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def runtime(client: TestClient) -> Runtime:
    app = client.app
    assert hasattr(app, "state")
    runtime: Runtime = app.state.runtime
    return runtime


@pytest.fixture(scope="module")
def admin(runtime: Runtime) -> dict[str, str]:
    with runtime.uow() as uow:
        _, secret = uow.api_keys.create("test", ["admin"])
        uow.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def knn(testdata: Path) -> Path:
    return testdata / KNN


@pytest.fixture(scope="module")
def johns(testdata: Path) -> dict[str, list[Path]]:
    """The five Johns: name -> their 11 aligned chips."""
    folders = sorted(p for p in (testdata / JOHNS).iterdir() if p.is_dir())
    return {folder.name: sorted(folder.glob("*.jpg")) for folder in folders}


@pytest.fixture(scope="module")
def ingest(client: TestClient, admin: dict[str, str]) -> Ingest:
    """POSTs an image as a camera's detection; the stored detections."""

    def send(image: bytes, camera_id: str = "cam-1", **form: str) -> list[dict[str, Any]]:
        response = client.post(
            "/api/v1/detections",
            files={"image": ("f.jpg", image)},
            data={"camera_id": camera_id, **form},
            headers=admin,
        )
        assert response.status_code == 201, response.text
        detections: list[dict[str, Any]] = response.json()["detections"]
        return detections

    return send
