"""Users and sessions on a real database: hashes, lockout, throttling, expiry, removal."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from facewatch.config import Settings
from facewatch.errors import Conflict, InvalidInput, NotFound, Unauthorized
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services import sessions, users
from facewatch.server.services.users import AccountLocked, Role
from facewatch.store.blobs import FileBlobStore
from facewatch.store.db import Database
from facewatch.store.models import utcnow

PASSWORD = "winter is coming 1234"


@pytest.fixture
def runtime(database: Database, blob_store: FileBlobStore, tmp_path: Path) -> Runtime:
    settings = Settings(
        data_dir=tmp_path,
        login_max_failures=3,
        login_address_limit=4,
        session_idle_minutes=30,
        session_max_hours=2,
    )
    return Runtime(settings=settings, db=database, blobs=blob_store)


@pytest.fixture
def alice(runtime: Runtime) -> users.UserInfo:
    return users.create_user(runtime, "alice", Role.OPERATOR, PASSWORD)


def fail(runtime: Runtime, username: str, address: str = "10.0.0.1") -> type[Exception]:
    """One failed login; the exception it raised."""
    with pytest.raises(Unauthorized) as raised:
        sessions.log_in(runtime, username, "not the password", address)
    return type(raised.value)


def test_only_an_argon2_hash_of_the_password_is_stored(
    runtime: Runtime, alice: users.UserInfo
) -> None:
    with runtime.db.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize("name", ["", "-dash-first", "with space", "x" * 65, "semi;colon"])
def test_bad_usernames_are_refused(runtime: Runtime, name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid username"):
        users.create_user(runtime, name, Role.VIEWER, PASSWORD)


def test_a_taken_username_is_a_conflict(runtime: Runtime, alice: users.UserInfo) -> None:
    with pytest.raises(Conflict):
        users.create_user(runtime, "alice", Role.ADMIN, PASSWORD)


def test_the_right_password_opens_a_session_whose_token_is_stored_only_hashed(
    runtime: Runtime, alice: users.UserInfo
) -> None:
    new = sessions.log_in(runtime, "alice", PASSWORD, "10.0.0.1", "test-agent")
    assert new.user.role == "operator"
    found = sessions.resolve(runtime, new.token)
    assert found is not None
    assert found.username == "alice"
    with runtime.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT token_hash, csrf_token FROM user_sessions")).all()
    assert rows == [(sessions.hash_token(new.token), new.user.csrf_token)]


def test_the_account_locks_at_the_limit_and_unlocks_when_the_lock_expires(
    runtime: Runtime, alice: users.UserInfo
) -> None:
    outcomes = [fail(runtime, "alice") for _ in range(3)]
    assert outcomes == [Unauthorized, Unauthorized, AccountLocked]
    with pytest.raises(AccountLocked):
        sessions.log_in(runtime, "alice", PASSWORD, "10.0.0.2")
    with runtime.uow() as uow:
        user = uow.users.get_by_username("alice")
        assert user is not None
        user.locked_until = utcnow() - timedelta(seconds=1)
        uow.commit()
    assert sessions.log_in(runtime, "alice", PASSWORD, "10.0.0.2").user.username == "alice"


def test_a_success_resets_the_count_of_failures(runtime: Runtime, alice: users.UserInfo) -> None:
    fail(runtime, "alice")
    fail(runtime, "alice")
    sessions.log_in(runtime, "alice", PASSWORD, "10.0.0.3")
    assert [fail(runtime, "alice", "10.0.0.4") for _ in range(2)] == [Unauthorized] * 2


def test_an_address_that_fails_too_often_is_throttled_whatever_the_usernames(
    runtime: Runtime, alice: users.UserInfo
) -> None:
    for name in ("x1", "x2", "x3", "x4"):
        fail(runtime, name, "192.0.2.9")
    with pytest.raises(sessions.LoginThrottled) as raised:
        sessions.log_in(runtime, "alice", PASSWORD, "192.0.2.9")
    assert 0 < raised.value.retry_after <= 15 * 60 + 1
    assert sessions.log_in(runtime, "alice", PASSWORD, "192.0.2.10").token


def test_activity_extends_a_session_but_never_past_its_lifetime(
    runtime: Runtime, alice: users.UserInfo
) -> None:
    new = sessions.log_in(runtime, "alice", PASSWORD, "10.0.0.1")
    token_hash = sessions.hash_token(new.token)
    with runtime.uow() as uow:
        row = uow.user_sessions.by_token_hash(token_hash)
        assert row is not None
        row.created_at = utcnow() - timedelta(hours=1, minutes=50)
        row.last_seen_at = utcnow() - timedelta(minutes=10)
        uow.commit()
    found = sessions.resolve(runtime, new.token)
    assert found is not None
    lifetime_end = utcnow() - timedelta(hours=1, minutes=50) + timedelta(hours=2)
    assert abs((found.expires_at - lifetime_end).total_seconds()) < 5


def test_logging_out_and_removing_the_user_end_sessions(
    runtime: Runtime, alice: users.UserInfo
) -> None:
    first = sessions.log_in(runtime, "alice", PASSWORD, "10.0.0.1")
    second = sessions.log_in(runtime, "alice", PASSWORD, "10.0.0.1")
    sessions.log_out(runtime, first.token)
    assert sessions.resolve(runtime, first.token) is None
    assert sessions.resolve(runtime, second.token) is not None
    users.remove_user(runtime, "alice")
    assert sessions.resolve(runtime, second.token) is None
    with pytest.raises(NotFound):
        users.remove_user(runtime, "alice")


@pytest.mark.parametrize("token", [None, "", "made-up-token"])
def test_no_or_unknown_tokens_resolve_to_nobody(runtime: Runtime, token: str | None) -> None:
    assert sessions.resolve(runtime, token) is None


def _answer(runtime: Runtime, username: str, password: str, address: str) -> tuple[str, str, float]:
    started = time.perf_counter()
    with pytest.raises(Unauthorized) as raised:
        sessions.log_in(runtime, username, password, address)
    return raised.value.message, raised.value.code, time.perf_counter() - started


def test_a_locked_account_answers_as_a_wrong_password_in_words_and_time(
    runtime: Runtime, alice: users.UserInfo
) -> None:
    users.create_user(runtime, "bob", Role.VIEWER, PASSWORD)
    for _ in range(3):
        fail(runtime, "alice", "10.0.0.8")
    locked = [_answer(runtime, "alice", PASSWORD, f"10.0.1.{n}") for n in range(3)]
    wrong = [_answer(runtime, "bob", "not the password", f"10.0.2.{n}") for n in range(2)]
    unknown = _answer(runtime, "nobody-at-all", "not the password", "10.0.3.1")
    assert {(m, c) for m, c, _ in [*locked, *wrong, unknown]} == {(locked[0][0], "unauthorized")}
    # The password is hashed for a locked account too: no faster answer gives it away.
    fastest_locked = min(t for _, _, t in locked)
    slowest_wrong = max(t for _, _, t in wrong)
    assert fastest_locked > slowest_wrong / 3, (locked, wrong)
