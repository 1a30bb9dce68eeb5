"""Who may call the compat routes: off by default; a key if sent; anonymous only if allowed."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings
from facewatch.server.app import create_app
from facewatch.server.infra.runtime import Runtime

# Every compat route, with the scope it needs: (method, path, scope).
ROUTES = [
    ("GET", "/dataset", "read"),
    ("POST", "/dataset/Some One", "enroll"),
    ("DELETE", "/dataset/Some One", "enroll"),
    ("POST", "/dataset/Some One/image", "enroll"),
    ("POST", "/model/train", "enroll"),
    ("POST", "/model/optimized-train", "enroll"),
    ("POST", "/model/generate-emb", "enroll"),
    ("POST", "/face-recognition/get-results", "read"),
    ("POST", "/face-recognition/store-results", "ingest"),
    ("POST", "/face-recognition/send-results", "ingest"),
    ("POST", "/face-recognition/dry-run", "read"),
    ("GET", "/database/people", "read"),
    ("GET", "/database/some_one/last-known-location", "read"),
    ("GET", "/debug/IP", "admin"),
    ("GET", "/debug/node-name", "admin"),
    ("POST", "/debug/unblock-dataset", "admin"),
]
# A scope each route refuses: (method, path, held scope).
REFUSED = [
    ("POST", "/dataset/Some One", "read"),
    ("POST", "/model/train", "ingest"),
    ("GET", "/dataset", "ingest"),
    ("POST", "/face-recognition/store-results", "read"),
    ("GET", "/debug/IP", "enroll"),
    ("POST", "/debug/unblock-dataset", "read"),
]


def make_client(tmp: Path, **settings: object) -> TestClient:
    return TestClient(
        create_app(Settings(data_dir=tmp, **settings), warm_up=False),  # type: ignore[arg-type]
        raise_server_exceptions=False,
    )


def key(client: TestClient, *scopes: str) -> dict[str, str]:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.uow() as uow:
        _, secret = uow.api_keys.create("compat test", list(scopes))
        uow.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Compat routes on, anonymous access off (the default)."""
    with make_client(tmp_path_factory.mktemp("keyed"), compat_cloud_api=True) as client:
        yield client


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Compat routes on, anonymous access allowed."""
    folder = tmp_path_factory.mktemp("anonymous")
    with make_client(folder, compat_cloud_api=True, compat_allow_anonymous=True) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/dataset"), ("POST", "/debug/unblock-dataset")]
)
def test_compat_routes_are_not_served_unless_turned_on(
    tmp_path: Path, method: str, path: str
) -> None:
    with make_client(tmp_path) as client:
        assert client.request(method, path).status_code == 404


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_without_a_key_every_compat_route_is_refused(
    keyed: TestClient, method: str, path: str, scope: str
) -> None:
    response = keyed.request(method, path)
    assert response.status_code == 401
    assert set(response.json()) == {"message"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "held"), REFUSED)
def test_a_key_without_the_scope_of_the_route_is_refused(
    keyed: TestClient, method: str, path: str, held: str
) -> None:
    response = keyed.request(method, path, headers=key(keyed, held))
    assert response.status_code == 403
    assert "scope" in response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        *ROUTES,
        ("POST", "/face-recognition/get-results", "ingest"),
        ("POST", "/face-recognition/dry-run", "enroll"),
    ],
)
def test_a_key_with_the_scope_of_the_route_is_let_through(
    keyed: TestClient, method: str, path: str, scope: str
) -> None:
    # Without a body most routes then refuse the request itself (400), never the key.
    response = keyed.request(method, path, headers=key(keyed, scope))
    assert response.status_code in (200, 400), response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/dataset"), ("GET", "/database/people"), ("POST", "/debug/unblock-dataset")],
)
def test_anonymous_access_lets_requests_without_a_key_through(
    anonymous: TestClient, method: str, path: str
) -> None:
    assert anonymous.request(method, path).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"Authorization": "Bearer fw_not_a_key"}, 401), ("read", 403)],
    ids=["an unknown key", "a key without the scope"],
)
def test_a_key_sent_with_anonymous_access_on_is_still_checked(
    anonymous: TestClient, headers: dict[str, str] | str, status: int
) -> None:
    sent = key(anonymous, headers) if isinstance(headers, str) else headers
    assert anonymous.post("/dataset/Checked Key", headers=sent).status_code == status


def test_facewatch_routes_still_need_a_key_with_anonymous_access_on(
    anonymous: TestClient,
) -> None:
    assert anonymous.get("/api/v1/people").status_code == 401


def test_anonymous_access_is_logged_as_a_risk_when_the_app_is_built(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="facewatch.server.compat"):
        create_app(
            Settings(data_dir=tmp_path, compat_cloud_api=True, compat_allow_anonymous=True),
            warm_up=False,
        )
    risks = [r for r in caplog.records if r.levelno == logging.WARNING and "RISK" in r.message]
    assert len(risks) == 1
    assert "without an api key" in risks[0].message.lower()


def test_no_risk_is_logged_when_keys_are_required(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="facewatch.server.compat"):
        create_app(Settings(data_dir=tmp_path, compat_cloud_api=True), warm_up=False)
    assert not [r for r in caplog.records if "RISK" in r.message]


def test_the_debug_routes_tell_the_address_and_name_of_the_node(
    keyed: TestClient,
) -> None:
    admin = key(keyed, "admin")
    address = keyed.get("/debug/IP", headers=admin).json()
    name = keyed.get("/debug/node-name", headers=admin).json()
    unblocked = keyed.post("/debug/unblock-dataset", headers=admin)
    assert list(address) == ["IP_address"]
    assert ipaddress.ip_address(address["IP_address"]).version == 4
    assert name == {"node_name": socket.gethostname()}
    assert unblocked.status_code == 200
    assert unblocked.json() is None


def test_the_openapi_document_describes_every_compat_route(keyed: TestClient) -> None:
    paths = keyed.get("/openapi.json").json()["paths"]
    documented = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "cloud-face-recognition compatibility" in operation.get("tags", [])
    }
    expected = {
        (method, path.replace("Some One", "{face_id}").replace("some_one", "{face_id}"))
        for method, path, _ in ROUTES
    }
    assert documented == expected
