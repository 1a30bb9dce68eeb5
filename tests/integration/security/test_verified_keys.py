"""A key verified a moment ago is admitted without a database lookup, and still refused at
once when it is revoked, narrowed or deleted here or on another replica; when it expires;
and, for changes no replica hears of, within ``api_key_cache_seconds``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.testclient import TestClient
from sqlalchemy import event

from facewatch.config import Settings
from facewatch.errors import Forbidden, Unauthorized
from facewatch.server.deps import authenticate_key
from facewatch.server.infra.replicas import ReplicaCoordinator
from facewatch.server.infra.runtime import Runtime
from facewatch.server.infra.sync import PostgresChangeFeed, create_change_feed
from facewatch.server.security import Scope
from facewatch.server.services.api_keys import VerifiedKeys
from facewatch.store.blobs import FileBlobStore
from facewatch.store.db import Database
from facewatch.store.models import ApiKey, utcnow
from facewatch.store.repositories.audit import AuditFilter
from support_security import make_key, runtime_of

LONG_TTL = 60.0
"""Longer than any test: a key refused at once was refused by the feed, not by ageing out."""


@pytest.fixture
def make_replica(database: Database, tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Runtimes on the test database, each with its own engine, change feed and key cache."""
    made: list[Runtime] = []

    def make(ttl: float = LONG_TTL) -> Runtime:
        db = Database(database.url.render_as_string(hide_password=False))
        settings = Settings(data_dir=tmp_path, database_url=str(db.url), api_key_cache_seconds=ttl)
        runtime = Runtime(
            settings=settings,
            db=db,
            blobs=FileBlobStore(tmp_path / "blobs"),
            changes=create_change_feed(db),
        )
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def new_key(runtime: Runtime, *scopes: str, expires_in: timedelta | None = None) -> str:
    with runtime.uow() as uow:
        expires_at = utcnow() + expires_in if expires_in is not None else None
        _, secret = uow.api_keys.create("test", list(scopes), expires_at=expires_at)
        uow.commit()
    return secret


def bearer(secret: str) -> HTTPAuthorizationCredentials:
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=secret)


def change_key(runtime: Runtime, secret: str, change: Callable[[ApiKey], None]) -> None:
    prefix = secret.split("_")[1]
    with runtime.uow() as uow:
        change(uow.api_keys.get(prefix))
        uow.commit()


def statements_during(database: Database, action: Callable[[], object]) -> int:
    seen: list[str] = []

    def note(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        event.remove(database.engine, "before_cursor_execute", note)
    return len(seen)


def wait_until_refused(runtime: Runtime, secret: str, limit: float) -> float:
    """Seconds until the key is refused; fails the test past ``limit``."""
    started = time.monotonic()
    while True:
        try:
            authenticate_key(runtime, bearer(secret), Scope.READ)
        except Unauthorized:
            return time.monotonic() - started
        assert time.monotonic() - started < limit, f"still admitted after {limit} s"
        time.sleep(0.02)


def test_a_key_verified_a_moment_ago_is_admitted_without_a_query(
    make_replica: Callable[..., Runtime],
) -> None:
    runtime = make_replica()
    secret = new_key(runtime, "read")
    first = statements_during(
        runtime.db, lambda: authenticate_key(runtime, bearer(secret), Scope.READ)
    )
    again = statements_during(
        runtime.db, lambda: authenticate_key(runtime, bearer(secret), Scope.READ)
    )
    assert first >= 1
    assert again == 0
    # A wrong secret with the same prefix is never taken for the remembered key.
    wrong = secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")
    with pytest.raises(Unauthorized):
        authenticate_key(runtime, bearer(wrong), Scope.READ)


def test_revoking_here_refuses_the_key_at_once(make_replica: Callable[..., Runtime]) -> None:
    runtime = make_replica()
    secret = new_key(runtime, "read")
    authenticate_key(runtime, bearer(secret), Scope.READ)
    change_key(runtime, secret, lambda key: setattr(key, "revoked_at", utcnow()))
    with pytest.raises(Unauthorized):
        authenticate_key(runtime, bearer(secret), Scope.READ)


def test_narrowed_scopes_apply_at_once(make_replica: Callable[..., Runtime]) -> None:
    runtime = make_replica()
    secret = new_key(runtime, "admin")
    authenticate_key(runtime, bearer(secret), Scope.ADMIN)
    change_key(runtime, secret, lambda key: setattr(key, "scopes", ["read"]))
    with pytest.raises(Forbidden):
        authenticate_key(runtime, bearer(secret), Scope.ADMIN)
    assert authenticate_key(runtime, bearer(secret), Scope.READ).scopes == ["read"]


def test_a_new_key_or_a_use_does_not_forget_the_others(
    make_replica: Callable[..., Runtime],
) -> None:
    runtime = make_replica()
    secret = new_key(runtime, "read")
    authenticate_key(runtime, bearer(secret), Scope.READ)
    new_key(runtime, "ingest")
    change_key(runtime, secret, lambda key: setattr(key, "last_used_at", utcnow()))
    assert len(runtime.verified_keys) == 1


def test_an_expired_key_is_refused_though_verified_a_moment_ago(
    make_replica: Callable[..., Runtime],
) -> None:
    runtime = make_replica()
    secret = new_key(runtime, "read", expires_in=timedelta(seconds=1))
    authenticate_key(runtime, bearer(secret), Scope.READ)
    assert len(runtime.verified_keys) == 1
    waited = wait_until_refused(runtime, secret, limit=3.0)
    assert waited < 1.5


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_revocation_no_replica_hears_of_applies_within_the_ttl(
    make_replica: Callable[..., Runtime],
) -> None:
    # The second runtime stands for `facewatch keys revoke` run on the server's SQLite file:
    # on SQLite the change feed stays within a process.
    server, cli = make_replica(ttl=0.5), make_replica()
    secret = new_key(server, "read")
    authenticate_key(server, bearer(secret), Scope.READ)
    change_key(cli, secret, lambda key: setattr(key, "revoked_at", utcnow()))
    waited = wait_until_refused(server, secret, limit=2.0)
    assert waited <= 0.5 + 0.2


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_on_postgresql_a_revocation_on_one_replica_applies_on_the_other_at_once(
    make_replica: Callable[..., Runtime],
) -> None:
    first, second = make_replica(), make_replica()
    coordinators = [ReplicaCoordinator(first), ReplicaCoordinator(second)]
    for coordinator in coordinators:
        coordinator.start()
    try:
        for runtime in (first, second):
            assert isinstance(runtime.changes, PostgresChangeFeed)
            assert runtime.changes.connected.wait(5), "the change feed never connected"
        secret = new_key(first, "read")
        authenticate_key(second, bearer(secret), Scope.READ)
        assert len(second.verified_keys) == 1
        change_key(first, secret, lambda key: setattr(key, "revoked_at", utcnow()))
        assert wait_until_refused(second, secret, limit=2.0) < 1.0
    finally:
        for coordinator in coordinators:
            coordinator.stop()


def test_a_lookup_that_raced_a_revocation_is_not_remembered() -> None:
    cache = VerifiedKeys(LONG_TTL)
    key = ApiKey(prefix="abcdefgh", scopes=["read"], secret_hash="x")
    started = time.monotonic()
    cache.clear()  # a revocation committed while the lookup ran
    cache.put("fw_abcdefgh_secret", key, started)
    assert cache.get("fw_abcdefgh_secret") is None
    cache.put("fw_abcdefgh_secret", key, time.monotonic())
    assert cache.get("fw_abcdefgh_secret") is key


def test_a_ttl_of_zero_looks_every_key_up() -> None:
    cache = VerifiedKeys(0)
    cache.put("fw_abcdefgh_secret", ApiKey(prefix="abcdefgh", scopes=["read"]), time.monotonic())
    assert cache.get("fw_abcdefgh_secret") is None


def test_the_oldest_keys_go_first_past_the_limit() -> None:
    cache = VerifiedKeys(LONG_TTL, max_entries=2)
    keys = [ApiKey(prefix=f"key{i:05d}", scopes=["read"]) for i in range(3)]
    for number, key in enumerate(keys):
        cache.put(f"token-{number}", key, time.monotonic())
    assert [cache.get(f"token-{n}") for n in range(3)] == [None, keys[1], keys[2]]


def test_every_request_with_a_remembered_key_is_still_audited(
    app_factory: Callable[..., TestClient],
) -> None:
    client = app_factory()
    runtime = runtime_of(client)
    headers = make_key(runtime, "read")
    for _ in range(3):
        answer = client.get("/api/v1/reports/visits", headers=headers)
        assert answer.status_code == 200, answer.text
    assert len(runtime.verified_keys) == 1
    assert runtime.access_log is not None
    runtime.access_log.flush()
    actor = "key:" + headers["Authorization"].split("_")[1]
    with runtime.uow() as uow:
        _, total = uow.audit.list(AuditFilter(action="sightings.searched", actor=actor))
    assert total == 3
