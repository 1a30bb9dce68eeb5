"""Logging in and out: the cookie, the login form's CSRF token, lockout, rate limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import users
from facewatch.server.services.sessions import COOKIE_NAME, SECURE_COOKIE_NAME, hash_token
from facewatch.store.models import utcnow
from support_dashboard import PASSWORD, form_token, log_in

NewClient = Callable[..., TestClient]


def submit(client: TestClient, username: str, password: str, next: str = "/") -> Response:
    """Fill in and submit the login form."""
    token = form_token(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next},
        follow_redirects=False,
    )


def post_login(
    client: TestClient, username: str, password: str, next: str = "/"
) -> tuple[int, str, str]:
    """Submit the login form; (status, Location, Set-Cookie)."""
    response = submit(client, username, password, next)
    return (
        response.status_code,
        response.headers.get("location", ""),
        response.headers.get("set-cookie", ""),
    )


@pytest.fixture
def fresh_user(runtime: Runtime, request: pytest.FixtureRequest) -> str:
    """A viewer of the test's own, so that locking it disturbs no other test."""
    name = f"u{abs(hash(request.node.nodeid)) % 10**8}"
    users.create_user(runtime, name, users.Role.VIEWER, PASSWORD)
    return name


def test_a_page_without_a_session_sends_the_browser_to_the_login_form(
    new_client: NewClient,
) -> None:
    response = new_client().get("/people?q=a", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fpeople%3Fq%3Da"


def test_logging_in_sets_an_httponly_samesite_cookie_and_follows_next(
    new_client: NewClient,
) -> None:
    status, location, cookie = post_login(new_client(), "viewer", PASSWORD, next="/people")
    assert (status, location) == (303, "/people")
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie


def test_over_https_the_cookie_is_secure_and_host_only(new_client: NewClient) -> None:
    _, _, cookie = post_login(new_client(https=True), "viewer", PASSWORD)
    assert cookie.startswith(f"{SECURE_COOKIE_NAME}=")
    assert "Secure" in cookie
    assert "Domain" not in cookie


@pytest.mark.parametrize("next", ["https://evil.example/", "//evil.example", "/\\evil"])
def test_next_never_leads_off_the_site(new_client: NewClient, next: str) -> None:
    _, location, _ = post_login(new_client(), "viewer", PASSWORD, next=next)
    assert location == "/"


@pytest.mark.parametrize(
    ("username", "password"),
    [("viewer", "wrong password here"), ("nobody-at-all", PASSWORD), ("VIEWER", PASSWORD)],
)
def test_wrong_credentials_get_one_message_and_no_session(
    new_client: NewClient, username: str, password: str
) -> None:
    response = submit(new_client(), username, password)
    assert response.status_code == 401
    assert "wrong username or password" in response.text
    assert COOKIE_NAME not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_the_login_form_needs_its_own_token(new_client: NewClient, token: str | None) -> None:
    client = new_client()
    client.get("/login")
    data = {"username": "viewer", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert COOKIE_NAME not in response.headers.get("set-cookie", "")


def test_an_account_locks_after_repeated_failures_even_for_the_right_password(
    new_client: NewClient, runtime: Runtime, fresh_user: str
) -> None:
    client = new_client()
    failures = runtime.settings.login_max_failures
    statuses = [post_login(client, fresh_user, "not the password!")[0] for _ in range(failures)]
    assert statuses == [401] * failures
    response = submit(client, fresh_user, PASSWORD)
    assert response.status_code == 401
    # Word for word a wrong password's answer: a locked account is not told apart.
    assert "wrong username or password" in response.text
    assert "this account is locked" not in response.text
    assert COOKIE_NAME not in response.headers.get("set-cookie", "")


def test_a_lock_ends_by_itself_and_the_right_password_then_works(
    new_client: NewClient, runtime: Runtime, fresh_user: str
) -> None:
    client = new_client()
    for _ in range(runtime.settings.login_max_failures):
        post_login(client, fresh_user, "not the password!")
    _expire_lock(runtime, fresh_user)
    status, _, _ = post_login(client, fresh_user, PASSWORD)
    assert status == 303


def test_one_address_failing_too_often_gets_429_with_retry_after(
    new_client: NewClient, runtime: Runtime
) -> None:
    attacker = new_client(address="203.0.113.7")
    limit = runtime.settings.login_address_limit
    # Spraying many usernames: no account locks, but the address is stopped.
    statuses = [post_login(attacker, f"guess{i}", "Password123!")[0] for i in range(limit)]
    assert set(statuses) == {401}
    response = submit(attacker, "viewer", PASSWORD)
    assert response.status_code == 429
    window = 60 * runtime.settings.login_address_window_minutes
    assert 0 < int(response.headers["retry-after"]) <= window
    assert post_login(new_client(address="198.51.100.1"), "viewer", PASSWORD)[0] == 303


def test_logging_out_ends_the_session_on_the_server(new_client: NewClient) -> None:
    client = new_client()
    csrf = log_in(client, "viewer")
    token = client.cookies[COOKIE_NAME]
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    replay = new_client()
    replay.cookies.set(COOKIE_NAME, token)
    assert replay.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_logging_out_needs_the_csrf_token(new_client: NewClient) -> None:
    client = new_client()
    log_in(client, "viewer")
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200


def test_removing_a_user_ends_their_sessions_at_once(
    new_client: NewClient, runtime: Runtime, fresh_user: str
) -> None:
    client = new_client()
    log_in(client, fresh_user)
    users.remove_user(runtime, fresh_user)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_an_expired_session_is_refused_and_forgotten(
    new_client: NewClient, runtime: Runtime
) -> None:
    client = new_client()
    log_in(client, "viewer")
    token_hash = hash_token(client.cookies[COOKIE_NAME])
    with runtime.uow() as uow:
        row = uow.user_sessions.by_token_hash(token_hash)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        uow.commit()
    assert client.get("/", follow_redirects=False).status_code == 303
    with runtime.uow() as uow:
        assert uow.user_sessions.by_token_hash(token_hash) is None


def _expire_lock(runtime: Runtime, username: str) -> None:
    with runtime.uow() as uow:
        user = uow.users.get_by_username(username)
        assert user is not None
        assert user.locked_until is not None
        user.locked_until = utcnow() - timedelta(seconds=1)
        uow.commit()
