"""The real app for the security tests: its own data dir, an encryption key, limits off
unless a test turns them on, and helpers to make keys and scan everything stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facewatch.server.app import create_app
from support_security import KNN, security_settings


@pytest.fixture(scope="module")
def knn(testdata: Path) -> Path:
    return testdata / KNN


@pytest.fixture(scope="module")
def app_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., TestClient]]:
    """Starts apps (lifespan run) with ``security_settings`` and the given overrides."""
    clients: list[TestClient] = []

    def start(**overrides: object) -> TestClient:
        settings = security_settings(tmp_path_factory.mktemp("security"), **overrides)
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)
