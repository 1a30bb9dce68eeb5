"""Dashboard users: roles and what each may do, argon2 password hashes, account lockout.

Roles are a fixed ladder (viewer < operator < admin); ``ROLE_PERMISSIONS`` is the one table
that says what each role may do, so that adding a permission or a role is a one-line change.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from facewatch.config import Settings
from facewatch.errors import InvalidInput, NotFound, Unauthorized
from facewatch.server.infra.runtime import Storage
from facewatch.store.models import User, utcnow
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
# Each argon2 computation takes 64 MiB and most of a core for ~0.1 s: a burst of logins
# on the server's 40 request threads must not take gigabytes, so a few run at a time.
_HASHING = threading.BoundedSemaphore(2)
# Hashing cost grows with the length; a cap stops a megabyte "password" from tying up a core.
MAX_PASSWORD_LENGTH = 1024


class Role(StrEnum):
    """What kind of dashboard user someone is."""

    ADMIN = "admin"
    """Everything: cameras, zones, settings, API keys, deleting people."""
    OPERATOR = "operator"
    """A guard: acknowledges events and enrols people."""
    VIEWER = "viewer"
    """Looks, changes nothing."""


class Permission(StrEnum):
    """One thing a dashboard user may do."""

    VIEW = "view"
    ACKNOWLEDGE = "acknowledge"
    ENROLL = "enroll"
    ADMINISTER = "administer"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.VIEW}),
    Role.OPERATOR: frozenset({Permission.VIEW, Permission.ACKNOWLEDGE, Permission.ENROLL}),
    Role.ADMIN: frozenset(Permission),
}


def parse_role(value: str) -> Role:
    """The role named ``value`` (any case); ``InvalidInput`` listing the roles otherwise."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise InvalidInput(f"unknown role {value!r}; choose from {choices}") from None


def role_allows(role: str, permission: Permission) -> bool:
    """True when ``role`` (a stored role name) grants ``permission``; unknown roles grant none."""
    known = Role._value2member_map_.get(role)
    return isinstance(known, Role) and permission in ROLE_PERMISSIONS[known]


# --- passwords -------------------------------------------------------------------------
@cache
def _hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106's second profile: 64 MiB, t=3, p=4)."""
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash checked for unknown usernames, so that timing does not tell which names exist."""
    return _hash("facewatch-no-such-user")


def check_password_strength(password: str) -> str:
    """Return ``password`` if it is long enough; ``InvalidInput`` if not."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise InvalidInput("the password must not be only spaces")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt and parameters included) of a strong password."""
    return _hash(check_password_strength(password))


def _hash(password: str) -> str:
    with _HASHING:
        return _hasher().hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """True when ``password`` is the one ``password_hash`` was made from."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        with _HASHING:
            return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- user management (the CLI) ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as listed: never the hash."""

    id: int
    username: str
    role: str
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None

    @classmethod
    def of(cls, user: User) -> UserInfo:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
            locked_until=user.locked_until,
        )


def create_user(storage: Storage, username: str, role: Role, password: str) -> UserInfo:
    """Add a user with a hashed password; ``Conflict`` if the username is taken."""
    password_hash = hash_password(password)
    with storage.uow() as uow:
        user = uow.users.add(username, password_hash, role.value)
        uow.commit()
        logger.info("user %s created with role %s", user.username, user.role)
        return UserInfo.of(user)


def list_users(storage: Storage) -> list[UserInfo]:
    """Every user, by username."""
    with storage.uow() as uow:
        return [UserInfo.of(user) for user in uow.users.list()]


def remove_user(storage: Storage, username: str) -> None:
    """Delete a user and end their sessions at once; ``NotFound`` if there is none."""
    with storage.uow() as uow:
        user = uow.users.get_by_username(username)
        if user is None:
            raise NotFound(f"no user named {username!r}")
        uow.users.delete(user)
        uow.commit()
    logger.info("user %s removed", username)


def change_role(storage: Storage, username: str, role: Role) -> UserInfo:
    """Give a user another role; it applies to their open sessions at the next request."""
    with storage.uow() as uow:
        user = _existing(uow, username)
        user.role = role.value
        uow.commit()
        logger.info("user %s now has role %s", username, role.value)
        return UserInfo.of(user)


def change_password(storage: Storage, username: str, password: str) -> None:
    """Set a new (strong) password, unlock the account and end every open session."""
    password_hash = hash_password(password)
    with storage.uow() as uow:
        user = _existing(uow, username)
        uow.users.set_password_hash(user, password_hash)
        user.failed_logins, user.locked_until = 0, None
        user.password_changed_at = utcnow()
        uow.user_sessions.delete_for_user(user.id)
        uow.commit()
    logger.info("password of user %s changed; their sessions ended", username)


def _existing(uow: UnitOfWork, username: str) -> User:
    user = uow.users.get_by_username(username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


# --- login -----------------------------------------------------------------------------
WRONG_CREDENTIALS = (
    "wrong username or password (after too many failed logins an account is locked for a while)"
)
"""The one answer to every failed login: a locked account must not tell that it exists."""


class AccountLocked(Unauthorized):
    """Too many wrong passwords in a row: the account refuses logins for a while.

    Its answer is a wrong password's, word for word and in time (the password is still
    hashed), so that locking an account cannot tell an attacker the name is real; only
    the audit log says why (``reason``).
    """

    reason = "account_locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(WRONG_CREDENTIALS)
        self.until = until


def check_credentials(uow: UnitOfWork, settings: Settings, username: str, password: str) -> User:
    """The user these credentials belong to; counts failures and locks the account.

    Raises ``Unauthorized`` for a wrong username or password (one message for both) and
    ``AccountLocked`` while the account is locked, even for the right password. The caller
    commits, so that the failure count is kept.
    """
    user = uow.users.get_by_username(username)
    if user is None:
        password_matches(_dummy_hash(), password)
        raise Unauthorized(WRONG_CREDENTIALS)
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        password_matches(user.password_hash, password)  # as long as a wrong password takes
        raise AccountLocked(user.locked_until)
    if not password_matches(user.password_hash, password):
        lock_until = now + timedelta(minutes=settings.login_lockout_minutes)
        uow.users.record_failure(user, settings.login_max_failures, lock_until)
        if user.locked_until is not None and user.locked_until > now:
            logger.warning("user %s locked after repeated failed logins", user.username)
            raise AccountLocked(user.locked_until)
        raise Unauthorized(WRONG_CREDENTIALS)
    if _hasher().check_needs_rehash(user.password_hash):
        # Stronger parameters since this hash was made: upgrade it (the password was right).
        uow.users.set_password_hash(user, _hash(password))
    uow.users.record_success(user)
    return user
