"""API keys expire, and rotate: the new key works at once, the old one for a grace time."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from facewatch.cli import app as cli_app
from facewatch.errors import Conflict, InvalidInput
from facewatch.server.services import users
from facewatch.server.services.users import Role
from facewatch.store.models import utcnow
from support_security import log_in, runtime_of

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def client(app_factory: Callable[..., TestClient]) -> TestClient:
    return app_factory()


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_an_expired_key_is_refused_and_no_longer_counted(client: TestClient) -> None:
    runtime = runtime_of(client)
    with runtime.uow() as uow:
        key, secret = uow.api_keys.create(
            "edge", ["read"], expires_at=utcnow() + timedelta(hours=1)
        )
        uow.commit()
        active = uow.api_keys.count_active()
    assert client.get("/api/v1/people", headers=_bearer(secret)).status_code == 200
    with runtime.uow() as uow:
        uow.api_keys.get(key.prefix).expires_at = utcnow() - timedelta(seconds=1)
        uow.commit()
        assert uow.api_keys.count_active() == active - 1
    answer = client.get("/api/v1/people", headers=_bearer(secret))
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_a_key_cannot_be_made_already_expired(client: TestClient) -> None:
    with runtime_of(client).uow() as uow, pytest.raises(InvalidInput):
        uow.api_keys.create("x", ["read"], expires_at=utcnow() - timedelta(days=1))


@pytest.mark.parametrize(
    ("grace", "old_works"), [(timedelta(hours=1), True), (timedelta(0), False)]
)
def test_rotation_gives_a_working_key_and_ends_the_old_one(
    client: TestClient, grace: timedelta, old_works: bool
) -> None:
    runtime = runtime_of(client)
    with runtime.uow() as uow:
        old, old_secret = uow.api_keys.create("gate", ["ingest", "read"])
        new, new_secret = uow.api_keys.rotate(old.prefix, grace)
        uow.commit()
    assert new.scopes == ["ingest", "read"]
    assert new.name == "gate"
    assert new.rotated_from_id == old.id
    assert client.get("/api/v1/people", headers=_bearer(new_secret)).status_code == 200
    status = client.get("/api/v1/people", headers=_bearer(old_secret)).status_code
    assert (status == 200) is old_works
    if not old_works:
        with runtime.uow() as uow, pytest.raises(Conflict):
            uow.api_keys.rotate(old.prefix, grace)


def test_the_cli_rotates_and_makes_expiring_keys(client: TestClient) -> None:
    settings = runtime_of(client).settings
    env = {"FACEWATCH_ENCRYPTION_KEY": settings.encryption_key.get_secret_value()}  # type: ignore[union-attr]
    where = ["--data-dir", str(settings.data_dir)]
    runner = CliRunner()
    made = runner.invoke(
        cli_app, ["keys", "create", "--scope", "read", "--expires-in", "90d", *where], env=env
    )
    assert made.exit_code == 0, made.output
    prefix = made.stdout.strip().split("_")[1]
    rotated = runner.invoke(cli_app, ["keys", "rotate", prefix, "--grace", "0", *where], env=env)
    assert rotated.exit_code == 0, rotated.output
    new_secret = rotated.stdout.strip().splitlines()[-1]
    assert client.get("/api/v1/people", headers=_bearer(new_secret)).status_code == 200
    with runtime_of(client).uow() as uow:
        new = uow.api_keys.get(new_secret.split("_")[1])
        assert new.expires_at is not None  # the lifetime carries over
        assert uow.api_keys.get(prefix).revoked_at is not None


def test_an_admin_makes_an_expiring_key_on_the_dashboard(client: TestClient) -> None:
    users.create_user(runtime_of(client), "keymaker", Role.ADMIN, PASSWORD)
    browser, csrf = log_in(client, "keymaker", PASSWORD, "10.9.9.9")
    answer = browser.post(
        "/settings/keys",
        data={"name": "door", "scopes": "ingest", "expires_days": "30", "csrf_token": csrf},
    )
    assert answer.status_code == 201
    prefix = re.search(r"fw_([A-Za-z0-9]{8})_", answer.text)
    assert prefix is not None
    with runtime_of(client).uow() as uow:
        key = uow.api_keys.get(prefix.group(1))
    assert key.expires_at is not None
    assert timedelta(days=29) < key.expires_at - utcnow() <= timedelta(days=30)
    assert "never" not in browser.get("/settings").text.split(prefix.group(1))[1][:400]
