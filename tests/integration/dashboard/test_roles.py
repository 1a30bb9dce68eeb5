"""Every dashboard route needs a login, every form its CSRF token, and each role reaches
only what it may (viewer reads, operator acknowledges and enrols, admin does everything).

The route lists come from the app's own route table: a page added without protection fails
here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from facewatch.dashboard.web import DashboardRoute

ClientAs = Callable[[str], tuple[TestClient, str]]
PUBLIC = {("GET", "/login"), ("POST", "/login")}
PLACEHOLDERS = {"person_id": "424242", "event_id": "no-such-event", "sha256": "0" * 64}


def dashboard_routes(app: object) -> list[tuple[str, str]]:
    """(method, path with placeholders filled) of every dashboard route."""
    assert isinstance(app, FastAPI)
    found = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, DashboardRoute) and route.path and route.methods:
            path = re.sub(r"{(\w+)}", lambda m: PLACEHOLDERS.get(m.group(1), "x-1"), route.path)
            found += [(method, path) for method in sorted(route.methods)]
    return found


def test_the_route_table_lists_the_dashboard(app_client: TestClient) -> None:
    paths = {path for _, path in dashboard_routes(app_client.app)}
    assert {"/", "/people", "/detections", "/search", "/cameras", "/settings"} <= paths


def test_every_dashboard_route_but_the_login_form_needs_a_login(
    app_client: TestClient, new_client: Callable[..., TestClient]
) -> None:
    anonymous = new_client()
    routes = [r for r in dashboard_routes(app_client.app) if r not in PUBLIC]
    answers = {
        (method, path): anonymous.request(method, path, follow_redirects=False)
        for method, path in routes
    }
    unprotected = {
        route: response.status_code
        for route, response in answers.items()
        if response.status_code != 303 or not response.headers["location"].startswith("/login")
    }
    assert unprotected == {}


def test_every_form_refuses_a_post_without_the_csrf_token(
    app_client: TestClient, client_as: ClientAs
) -> None:
    admin, _ = client_as("admin")
    posts = [r for r in dashboard_routes(app_client.app) if r[0] == "POST" and r not in PUBLIC]
    assert posts
    answers = {
        path: admin.post(path, data={"csrf_token": "forged"}).status_code for _, path in posts
    }
    assert answers == dict.fromkeys(answers, 403)


def test_a_form_sent_from_another_origin_is_refused(client_as: ClientAs) -> None:
    admin, csrf = client_as("admin")
    response = admin.post(
        "/people",
        data={"name": "cross-site", "csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "another site" in response.text


# (method, path, form) -> the roles that may do it; a refusal is 403, anything else passes.
ACTIONS = [
    ("GET", "/", None, {"viewer", "operator", "admin"}),
    ("GET", "/people", None, {"viewer", "operator", "admin"}),
    ("GET", "/settings", None, {"viewer", "operator", "admin"}),
    ("POST", "/live/events/no-such-event/ack", {}, {"operator", "admin"}),
    ("POST", "/people", {"name": "made-by-{role}"}, {"operator", "admin"}),
    ("POST", "/people/424242", {"name": "n", "category": "staff"}, {"operator", "admin"}),
    ("POST", "/people/424242/delete", {}, {"admin"}),
    ("POST", "/cameras", {"id": "cam-{role}", "name": "c"}, {"admin"}),
    ("POST", "/cameras/none/delete", {}, {"admin"}),
    ("POST", "/zones", {"id": "zone-{role}", "name": "z"}, {"admin"}),
    ("POST", "/zones/none/delete", {}, {"admin"}),
    ("POST", "/settings/keys", {"scopes": "read"}, {"admin"}),
    ("POST", "/settings/keys/nosuchkey/revoke", {}, {"admin"}),
    ("GET", "/webhooks", None, {"admin"}),
    ("POST", "/webhooks", {"url": "http://127.0.0.1:9/{role}"}, {"admin"}),
    ("POST", "/webhooks/424242/delete", {}, {"admin"}),
]


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
@pytest.mark.parametrize(("method", "path", "form", "allowed"), ACTIONS)
def test_each_role_does_only_what_it_may(
    client_as: ClientAs,
    role: str,
    method: str,
    path: str,
    form: dict[str, str] | None,
    allowed: set[str],
) -> None:
    client, csrf = client_as(role)
    data = None if form is None else {k: v.format(role=role) for k, v in form.items()}
    if data is not None:
        data["csrf_token"] = csrf
    response = client.request(method, path, data=data, follow_redirects=False)
    if role in allowed:
        assert response.status_code != 403, response.text
    else:
        assert response.status_code == 403
        assert "only" in response.text


def test_api_keys_and_users_are_shown_to_admins_only(client_as: ClientAs) -> None:
    viewer, _ = client_as("viewer")
    admin, _ = client_as("admin")
    assert 'id="api-keys"' not in viewer.get("/settings").text
    assert 'id="api-keys"' in admin.get("/settings").text
