"""The real app over httpx (Starlette's TestClient), on real migrated SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings
from facewatch.server.app import create_app
from facewatch.server.infra.runtime import Runtime

KNN = "face_recognition_examples/examples/knn_examples"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, app_database_url: str | None) -> Settings:
    """Every module of API tests runs on SQLite and on PostgreSQL."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("facewatch-data"),
        database_url=app_database_url,
        max_upload_bytes=3_000_000,
        max_request_bytes=8_000_000,
        max_image_pixels=12_000_000,
    )


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan run (storage open, models and gallery loaded)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def runtime(client: TestClient) -> Runtime:
    app = client.app
    assert hasattr(app, "state")
    runtime: Runtime = app.state.runtime
    return runtime


@pytest.fixture(scope="module")
def make_key(runtime: Runtime) -> Callable[..., dict[str, str]]:
    """Makes an API key with the given scopes and returns its Authorization header."""

    def make(*scopes: str) -> dict[str, str]:
        with runtime.uow() as uow:
            _, secret = uow.api_keys.create("test", list(scopes))
            uow.commit()
        return {"Authorization": f"Bearer {secret}"}

    return make


@pytest.fixture(scope="module")
def admin(make_key: Callable[..., dict[str, str]]) -> dict[str, str]:
    return make_key("admin")


@pytest.fixture(scope="module")
def knn(testdata: Path) -> Path:
    return testdata / KNN


@pytest.fixture(scope="module")
def enrolled(client: TestClient, admin: dict[str, str], knn: Path) -> dict[str, int]:
    """The five knn_examples people enrolled through the API: name -> person id."""
    ids: dict[str, int] = {}
    for folder in sorted((knn / "train").iterdir()):
        created = client.post("/api/v1/people", json={"name": folder.name}, headers=admin)
        assert created.status_code == 201, created.text
        person_id = created.json()["id"]
        files = [("images", (p.name, p.read_bytes())) for p in sorted(folder.iterdir())]
        added = client.post(f"/api/v1/people/{person_id}/faces", files=files, headers=admin)
        assert added.status_code == 201, added.text
        ids[folder.name] = person_id
    return ids
