"""API keys: ``fw_<prefix>_<secret>``; the prefix finds the row, only SHA-256(secret) is kept."""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
import string
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import func, inspect, or_, select
from sqlalchemy.orm import Session

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.store.models import ApiKey, utcnow
from facewatch.store.repositories.common import check_text

if TYPE_CHECKING:
    from facewatch.store.db import Database

KEY_MARKER = "fw"
PREFIX_LENGTH = 8
SECRET_BYTES = 32
# Alphanumeric only, so that the "_" separators of a key are never ambiguous.
_PREFIX_ALPHABET = string.ascii_letters + string.digits
# Recording every use would make each authenticated request a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_CREATE_ATTEMPTS = 5
_ADMITTING = ("prefix", "secret_hash", "scopes", "revoked_at", "expires_at")
"""The columns that decide whether a key admits a request (``last_used_at`` does not)."""
_KEYS_CHANGED = "facewatch.api_keys_changed"
"""Session ``info`` flag: this transaction changed what some existing key admits."""


class ParsedKey(NamedTuple):
    """The two parts of a plaintext API key."""

    prefix: str
    secret: str


def format_key(prefix: str, secret: str) -> str:
    """The plaintext key a user is given once: ``fw_<prefix>_<secret>``."""
    return f"{KEY_MARKER}_{prefix}_{secret}"


def parse_key(plaintext: str) -> ParsedKey | None:
    """Split ``fw_<prefix>_<secret>``; ``None`` for anything not shaped like a key."""
    marker, body = plaintext[: len(KEY_MARKER) + 1], plaintext[len(KEY_MARKER) + 1 :]
    # The prefix has a fixed length; the secret may itself contain "_".
    prefix, secret = body[:PREFIX_LENGTH], body[PREFIX_LENGTH + 1 :]
    well_formed = (
        marker == f"{KEY_MARKER}_"
        and len(prefix) == PREFIX_LENGTH
        and all(c in _PREFIX_ALPHABET for c in prefix)
        and body[PREFIX_LENGTH : PREFIX_LENGTH + 1] == "_"
        and secret != ""
    )
    if not well_formed:
        return None
    return ParsedKey(prefix, secret)


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest stored for a secret (secrets are random, so no salt is needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_prefix() -> str:
    """A random 8-character alphanumeric prefix."""
    return "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))


class ApiKeyRepository:
    """Reads and writes the ``api_keys`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        expires_at: datetime | None = None,
        rotated_from_id: int | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its plaintext, which is shown once and never stored.

        ``expires_at``: when the key stops working by itself (None: never).
        """
        check_text(ApiKey.name, name)
        if expires_at is not None and expires_at <= utcnow():
            raise InvalidInput("an API key must expire in the future")
        secret = secrets.token_urlsafe(SECRET_BYTES)
        key = ApiKey(
            prefix=self._unused_prefix(),
            secret_hash=hash_secret(secret),
            name=name,
            scopes=_check_scopes(scopes),
            expires_at=expires_at,
            rotated_from_id=rotated_from_id,
        )
        self._session.add(key)
        self._session.flush()
        return key, format_key(key.prefix, secret)

    def authenticate(self, plaintext: str) -> ApiKey | None:
        """The active key ``plaintext`` is, or ``None``; records when it was last used.

        The caller commits the unit of work to keep ``last_used_at``.
        """
        parsed = parse_key(plaintext)
        key = None if parsed is None else self._by_prefix(parsed.prefix)
        expected = key.secret_hash if key is not None else hash_secret("")
        given = hash_secret(parsed.secret if parsed is not None else "-")
        # Compared even when no row matched, so that timing does not tell which prefixes exist.
        if not hmac.compare_digest(given, expected) or key is None or not is_active(key):
            return None
        self._touch(key)
        return key

    def rotate(self, id_or_prefix: int | str, grace: timedelta) -> tuple[ApiKey, str]:
        """A new key with the same name and scopes; the old one stops after ``grace``.

        A zero grace revokes the old key at once. An earlier expiry of the old key is kept.
        """
        old = self.get(id_or_prefix)
        if not is_active(old):
            raise Conflict(f"API key {old.prefix} is revoked or expired: create a new one")
        new, secret = self.create(
            old.name, old.scopes, expires_at=old.expires_at, rotated_from_id=old.id
        )
        if grace <= timedelta(0):
            old.revoked_at = utcnow()
        else:
            ends = utcnow() + grace
            old.expires_at = ends if old.expires_at is None else min(old.expires_at, ends)
        self._session.flush()
        return new, secret

    def list(self) -> builtins.list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        return builtins.list(self._session.scalars(select(ApiKey).order_by(ApiKey.id)))

    def get(self, id_or_prefix: int | str) -> ApiKey:
        """The key with this id (an int) or prefix (a str); ``NotFound`` if none."""
        if isinstance(id_or_prefix, int):
            key = self._session.get(ApiKey, id_or_prefix)
        else:
            key = self._by_prefix(id_or_prefix)
        if key is None:
            raise NotFound(f"API key {id_or_prefix!r} not found")
        return key

    def revoke(self, id_or_prefix: int | str) -> ApiKey:
        """Revoke a key for good (revoking it again keeps the first time); ``NotFound``."""
        key = self.get(id_or_prefix)
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            self._session.flush()
        return key

    def count_active(self) -> int:
        """How many keys are neither revoked nor expired."""
        now = utcnow()
        statement = (
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.revoked_at.is_(None))
            .where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
        )
        return self._session.scalar(statement) or 0

    def _by_prefix(self, prefix: str) -> ApiKey | None:
        return self._session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))

    def _unused_prefix(self) -> str:
        for _ in range(_CREATE_ATTEMPTS):
            prefix = new_prefix()
            if self._by_prefix(prefix) is None:
                return prefix
        raise Conflict("could not find an unused API key prefix; try again")  # pragma: no cover

    def _touch(self, key: ApiKey) -> None:
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            key.last_used_at = now
            self._session.flush()


def is_active(key: ApiKey, now: datetime | None = None) -> bool:
    """Whether ``key`` still works: not revoked and not expired."""
    if key.revoked_at is not None:
        return False
    return key.expires_at is None or key.expires_at > (now or utcnow())


def _check_scopes(scopes: Iterable[str]) -> builtins.list[str]:
    if isinstance(scopes, str):
        raise InvalidInput("scopes must be a list of scope names, not one string")
    unique = builtins.list(dict.fromkeys(scopes))
    if not all(isinstance(scope, str) and scope.strip() for scope in unique):
        raise InvalidInput("every scope must be a non-empty string")
    return unique


def watch_key_changes(db: Database, callback: Callable[[], None]) -> None:
    """Call ``callback`` after every commit, through ``db``'s sessions, that revoked,
    expired, re-scoped or deleted an API key (a new key, or a new ``last_used_at``, is no
    reason to distrust keys verified before: see ``server/services/api_keys.py``)."""

    def after_flush(session: Session, _context: Any) -> None:
        deleted = any(isinstance(obj, ApiKey) for obj in session.deleted)
        if deleted or any(_admits_differently(obj) for obj in session.dirty):
            session.info[_KEYS_CHANGED] = True

    def after_commit(session: Session) -> None:
        if session.info.pop(_KEYS_CHANGED, False):
            callback()

    def after_rollback(session: Session) -> None:
        session.info.pop(_KEYS_CHANGED, None)

    db.listen("after_flush", after_flush)
    db.listen("after_commit", after_commit)
    db.listen("after_rollback", after_rollback)


def _admits_differently(obj: object) -> bool:
    if not isinstance(obj, ApiKey):
        return False
    attributes = inspect(obj).attrs
    return any(attributes[name].history.has_changes() for name in _ADMITTING)
