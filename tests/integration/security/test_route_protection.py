"""Every route of the app under every API key scope and every dashboard role.

The routes come from the app's own route table, and what each one needs is read from its
dependencies: a route added without ``require(...)`` (API) or a permission (dashboard)
fails here, and so does one whose protection lets the wrong scope or role through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from facewatch.dashboard.web import DashboardRoute
from facewatch.server.security import Scope, grants
from facewatch.server.services import users
from facewatch.server.services.users import Permission, Role, role_allows
from facewatch.store.models import utcnow
from support_security import log_in, runtime_of

PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/login",
    "/static",
    "/favicon.ico",
}
PLACEHOLDERS = {
    "sha256": "0" * 64,
    "detection_id": "424242",
    "person_id": "424242",
    "webhook_id": "424242",
    "unknown_id": "unknown-0000000000000000",
}
STREAMS = {"/api/v1/events/stream"}  # endless answers: only refusals are tested
PASSWORD = "correct horse battery staple"
KEY_KINDS = ["admin", "enroll", "ingest", "read"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    template: str
    multipart: bool
    scopes: frozenset[Scope] | None
    permission: Permission | None


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def _closure_values(call: object) -> Iterator[object]:
    """What a dependency closes over, and what the functions it closes over do (one level)."""
    for cell in getattr(call, "__closure__", None) or ():
        yield cell.cell_contents
        for inner in getattr(cell.cell_contents, "__closure__", None) or ():
            yield inner.cell_contents


def _needs(dependant: Dependant) -> tuple[frozenset[Scope] | None, Permission | None]:
    """The scopes (API) and permission (dashboard) a route's dependencies demand."""
    scopes: frozenset[Scope] | None = None
    permission: Permission | None = None
    for sub in _walk(dependant):
        for value in _closure_values(sub.call):
            if isinstance(value, tuple) and value and all(isinstance(v, Scope) for v in value):
                scopes = frozenset(value) if scopes is None else scopes & frozenset(value)
            elif isinstance(value, Scope) and scopes is None:
                scopes = frozenset({value})
            elif isinstance(value, Permission):
                permission = value
    return scopes, permission


def endpoints(app: FastAPI) -> list[Endpoint]:
    found = []
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if not isinstance(original, APIRoute) or not route.path or not route.methods:
            continue
        path = re.sub(r"{(\w+)}", lambda m: PLACEHOLDERS.get(m.group(1), "x-1"), route.path)
        scopes, permission = _needs(route.dependant)
        multipart = any(
            type(p.field_info).__name__ in ("File", "Form") for p in route.dependant.body_params
        )
        for method in sorted(route.methods):
            found.append(Endpoint(method, path, route.path, multipart, scopes, permission))
    return found


@pytest.fixture(scope="module")
def client(app_factory: Callable[..., TestClient]) -> TestClient:
    client = app_factory()
    runtime = runtime_of(client)
    for role in Role:
        users.create_user(runtime, f"{role.value}-user", role, PASSWORD)
    return client


@pytest.fixture(scope="module")
def keys(client: TestClient) -> dict[str, dict[str, str]]:
    """An Authorization header per scope, plus an expired and a revoked admin key."""
    runtime = runtime_of(client)
    headers: dict[str, dict[str, str]] = {}
    with runtime.uow() as uow:
        for kind in KEY_KINDS:
            _, secret = uow.api_keys.create(kind, [kind])
            headers[kind] = {"Authorization": f"Bearer {secret}"}
        _, secret = uow.api_keys.create(
            "soon", ["admin"], expires_at=utcnow() + timedelta(seconds=1)
        )
        headers["expired"] = {"Authorization": f"Bearer {secret}"}
        revoked, secret = uow.api_keys.create("revoked", ["admin"])
        uow.api_keys.revoke(revoked.prefix)
        headers["revoked"] = {"Authorization": f"Bearer {secret}"}
        uow.commit()
    import time

    time.sleep(1.1)  # the "soon" key expires
    return headers


def _send(client: TestClient, endpoint: Endpoint, headers: dict[str, str]) -> int:
    kwargs: dict[str, object] = {"headers": headers, "follow_redirects": False}
    if endpoint.method in ("POST", "PATCH", "PUT"):
        if endpoint.multipart:
            kwargs["files"] = {"image": ("x.jpg", b"not an image")}
        else:
            kwargs["json"] = {}
    return client.request(endpoint.method, endpoint.path, **kwargs).status_code  # type: ignore[arg-type]


def _api(client: TestClient) -> list[Endpoint]:
    return [e for e in endpoints(client.app) if e.path.startswith("/api/")]  # type: ignore[arg-type]


def test_every_api_route_demands_an_api_key_scope(client: TestClient) -> None:
    unprotected = [f"{e.method} {e.template}" for e in _api(client) if e.scopes is None]
    assert unprotected == []
    assert len(_api(client)) > 40


def test_every_route_is_an_api_route_a_dashboard_page_or_known_public(client: TestClient) -> None:
    unknown = [
        f"{e.method} {e.template}"
        for e in endpoints(client.app)  # type: ignore[arg-type]
        if not e.path.startswith("/api/")
        and e.permission is None
        and not any(e.path == p or e.path.startswith(p + "/") for p in PUBLIC)
    ]
    assert unknown == []


@pytest.mark.parametrize("kind", [*KEY_KINDS, "none", "expired", "revoked"])
def test_each_api_key_reaches_exactly_the_routes_of_its_scope(
    client: TestClient, keys: dict[str, dict[str, str]], kind: str
) -> None:
    wrong: list[str] = []
    for endpoint in _api(client):
        assert endpoint.scopes is not None
        allowed = kind in KEY_KINDS and grants([kind], *endpoint.scopes)
        if allowed and endpoint.template in STREAMS:
            continue
        status = _send(client, endpoint, keys.get(kind, {}))
        if allowed and status in (401, 403):
            wrong.append(f"{endpoint.method} {endpoint.template}: refused ({status})")
        elif not allowed:
            expected = 403 if kind in KEY_KINDS else 401
            if status != expected:
                wrong.append(f"{endpoint.method} {endpoint.template}: {status}, not {expected}")
    assert wrong == []


@pytest.mark.parametrize("role", ["anonymous", *[r.value for r in Role]])
def test_each_dashboard_role_reaches_exactly_the_pages_it_may(
    client: TestClient, role: str
) -> None:
    pages = [
        e
        for e in endpoints(client.app)  # type: ignore[arg-type]
        if e.permission is not None and not e.path.startswith("/api/")
    ]
    assert len(pages) > 20
    browser, csrf = (
        (client, "")
        if role == "anonymous"
        else log_in(client, f"{role}-user", PASSWORD, f"{role}-pc")
    )
    wrong = []
    for page in pages:
        if page.template == "/logout":
            continue  # would end the session the other pages need
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        status = _send(browser, page, headers)
        assert page.permission is not None
        if role == "anonymous":
            if status not in (303, 401):
                wrong.append(f"{page.method} {page.template}: {status}")
        elif role_allows(role, page.permission) and status == 403:
            wrong.append(f"{page.method} {page.template}: refused to {role}")
        elif not role_allows(role, page.permission) and status != 403:
            wrong.append(f"{page.method} {page.template}: {status} for {role}")
    assert wrong == []


def test_dashboard_routes_are_html_routes(client: TestClient) -> None:
    kinds = {
        type(route.original_route).__name__
        for route in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if getattr(route, "path", "") in ("/audit", "/settings")
    }
    assert kinds == {DashboardRoute.__name__}
