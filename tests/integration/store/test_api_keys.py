"""ApiKeyRepository against a real migrated database."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest

from facewatch.errors import NotFound
from facewatch.store.repositories.api_keys import LAST_USED_RESOLUTION, parse_key
from facewatch.store.unit_of_work import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


def _create(uow_factory: UowFactory, name: str = "edge", scopes: list[str] | None = None) -> str:
    with uow_factory() as uow:
        _, plaintext = uow.api_keys.create(name, scopes or ["ingest"])
        uow.commit()
    return plaintext


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        key, plaintext = uow.api_keys.create("edge", ["ingest", "read"])
        uow.commit()
    parsed = parse_key(plaintext)
    assert parsed is not None
    assert parsed.prefix == key.prefix
    assert len(parsed.secret) >= 43  # 32 random bytes
    assert key.secret_hash == hashlib.sha256(parsed.secret.encode()).hexdigest()
    assert parsed.secret not in (key.secret_hash, key.prefix, key.name)
    assert key.scopes == ["ingest", "read"]


def test_the_right_key_authenticates_and_is_marked_used(uow_factory: UowFactory) -> None:
    plaintext = _create(uow_factory)
    with uow_factory() as uow:
        key = uow.api_keys.authenticate(plaintext)
        uow.commit()
    assert key is not None
    assert key.name == "edge"
    assert key.last_used_at is not None
    with uow_factory() as uow:
        assert uow.api_keys.get(key.id).last_used_at == key.last_used_at


def test_use_is_recorded_at_most_once_a_minute(uow_factory: UowFactory) -> None:
    plaintext = _create(uow_factory)
    with uow_factory() as uow:
        first = uow.api_keys.authenticate(plaintext)
        assert first is not None
        stamp = first.last_used_at
        again = uow.api_keys.authenticate(plaintext)
        assert again is not None
        assert again.last_used_at == stamp
        assert stamp is not None
        first.last_used_at = stamp - LAST_USED_RESOLUTION - timedelta(seconds=1)
        third = uow.api_keys.authenticate(plaintext)
        assert third is not None
        assert third.last_used_at is not None
        assert third.last_used_at >= stamp


@pytest.mark.parametrize(
    "tamper",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),
        lambda k: k[:3] + "Zz9Zz9Zz" + k[11:],
        lambda k: k + "x",
        lambda k: "",
        lambda k: "fw_",
        lambda k: k.replace("fw_", "xx_"),
    ],
    ids=["wrong-secret", "unknown-prefix", "longer", "empty", "marker-only", "wrong-marker"],
)
def test_a_wrong_key_does_not_authenticate(
    uow_factory: UowFactory, tamper: Callable[[str], str]
) -> None:
    plaintext = _create(uow_factory)
    with uow_factory() as uow:
        assert uow.api_keys.authenticate(tamper(plaintext)) is None


@pytest.mark.parametrize("by", ["id", "prefix"])
def test_a_revoked_key_no_longer_authenticates(uow_factory: UowFactory, by: str) -> None:
    plaintext = _create(uow_factory)
    with uow_factory() as uow:
        key = uow.api_keys.authenticate(plaintext)
        assert key is not None
        revoked = uow.api_keys.revoke(key.id if by == "id" else key.prefix)
        uow.commit()
    assert revoked.revoked_at is not None
    with uow_factory() as uow:
        assert uow.api_keys.authenticate(plaintext) is None


def test_revoking_twice_keeps_the_first_time(uow_factory: UowFactory) -> None:
    _create(uow_factory)
    with uow_factory() as uow:
        [key] = uow.api_keys.list()
        first = uow.api_keys.revoke(key.id).revoked_at
        assert uow.api_keys.revoke(key.id).revoked_at == first


@pytest.mark.parametrize("missing", [999, "Nope0000"])
def test_revoking_an_unknown_key_is_not_found(uow_factory: UowFactory, missing: int | str) -> None:
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.api_keys.revoke(missing)


def test_keys_are_listed_and_the_active_ones_counted(uow_factory: UowFactory) -> None:
    for name in ("a", "b", "c"):
        _create(uow_factory, name)
    with uow_factory() as uow:
        uow.api_keys.revoke(uow.api_keys.list()[1].id)
        uow.commit()
    with uow_factory() as uow:
        assert [k.name for k in uow.api_keys.list()] == ["a", "b", "c"]
        assert uow.api_keys.count_active() == 2


def test_duplicate_scopes_are_kept_once_in_order(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        key, _ = uow.api_keys.create("k", ["read", "ingest", "read"])
        assert key.scopes == ["read", "ingest"]
