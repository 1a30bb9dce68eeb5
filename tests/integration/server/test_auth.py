"""API keys and scopes: every route but the probes needs a key with the right scope."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from facewatch.server.infra.runtime import Runtime
from facewatch.store.repositories.api_keys import hash_secret, parse_key
from support import assert_error


@pytest.mark.parametrize("path", ["/healthz"])
def test_probes_need_no_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_readiness_reports_the_loaded_gallery(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["model"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer fw_nope_nothing"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_unknown_keys_are_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/api/v1/people", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


# (method, path, body) -> the scopes that may call it
ROUTES = [
    ("GET", "/api/v1/people", None, {"read", "enroll", "admin"}),
    ("POST", "/api/v1/people", {"name": "scoped"}, {"enroll", "admin"}),
    ("DELETE", "/api/v1/people/424242", None, {"enroll", "admin"}),
    ("PATCH", "/api/v1/people/424242", {"notes": "n"}, {"enroll", "admin"}),
    ("GET", "/api/v1/detections", None, {"read", "enroll", "admin"}),
    ("GET", "/api/v1/cameras", None, {"read", "enroll", "admin"}),
    ("POST", "/api/v1/cameras", {"id": "scoped-cam", "name": "c"}, {"admin"}),
    ("DELETE", "/api/v1/cameras/none-such", None, {"admin"}),
]


@pytest.mark.parametrize("scope", ["read", "enroll", "ingest", "admin"])
@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROUTES)
def test_each_scope_reaches_only_its_routes(
    client: TestClient,
    make_key: Callable[..., dict[str, str]],
    scope: str,
    method: str,
    path: str,
    body: dict[str, str] | None,
    allowed: set[str],
) -> None:
    response = client.request(method, path, json=body, headers=make_key(scope))
    if scope in allowed:
        assert response.status_code != 403, response.text
    else:
        assert_error(response, 403, "forbidden")


def test_a_read_key_can_neither_enrol_nor_delete(
    client: TestClient, admin: dict[str, str], make_key: Callable[..., dict[str, str]]
) -> None:
    reader = make_key("read")
    person = client.post("/api/v1/people", json={"name": "Protected"}, headers=admin).json()
    url = f"/api/v1/people/{person['id']}"
    assert client.post("/api/v1/people", json={"name": "x"}, headers=reader).status_code == 403
    faces = client.post(f"{url}/faces", files={"images": ("a.jpg", b"x")}, headers=reader)
    assert faces.status_code == 403
    assert client.delete(url, headers=reader).status_code == 403
    assert client.get(url, headers=admin).status_code == 200


def test_a_revoked_key_stops_working_at_once(
    client: TestClient, runtime: Runtime, make_key: Callable[..., dict[str, str]]
) -> None:
    headers = make_key("read")
    assert client.get("/api/v1/people", headers=headers).status_code == 200
    parsed = parse_key(headers["Authorization"].removeprefix("Bearer "))
    assert parsed is not None
    prefix = parsed.prefix
    with runtime.uow() as uow:
        uow.api_keys.revoke(prefix)
        uow.commit()
    assert_error(client.get("/api/v1/people", headers=headers), 401)


def test_keys_are_stored_hashed(runtime: Runtime, make_key: Callable[..., dict[str, str]]) -> None:
    secret = make_key("read")["Authorization"].removeprefix("Bearer ")
    parsed = parse_key(secret)
    assert parsed is not None
    with runtime.uow() as uow:
        stored = {k.prefix: k.secret_hash for k in uow.api_keys.list()}
    assert parsed.prefix in stored
    assert parsed.secret not in stored[parsed.prefix]
    assert stored[parsed.prefix] == hash_secret(parsed.secret)
