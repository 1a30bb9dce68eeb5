"""Dashboard users, their sessions and the record of login attempts.

Passwords arrive here already hashed (argon2, in ``facewatch.server.services.users``) and
session tokens as their SHA-256: this module never sees a secret.
"""

from __future__ import annotations

import builtins
import re
from datetime import datetime

from sqlalchemy import String, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.store.models import LoginAttempt, User, UserSession, utcnow
from facewatch.store.repositories.common import check_text, flush_or_conflict

# Usernames appear in logs, the audit trail and URLs: keep them to a plain alphabet.
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def check_username(username: str) -> str:
    """Return ``username`` if it is 1-64 letters, digits, ``_ . @ -``; else ``InvalidInput``."""
    if not isinstance(username, str) or _USERNAME.fullmatch(username) is None:
        raise InvalidInput(
            f"invalid username {username!r}: use 1 to 64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    return username


class UserRepository:
    """Reads and writes the ``users`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, username: str, password_hash: str, role: str) -> User:
        """A new user; ``Conflict`` if the username is taken."""
        user = User(
            username=check_username(username),
            password_hash=check_text(User.password_hash, password_hash),
            role=check_text(User.role, role),
            failed_logins=0,
        )
        if self.get_by_username(username) is not None:
            raise Conflict(_taken(username))
        self._session.add(user)
        flush_or_conflict(self._session, _taken(username))
        return user

    def get(self, user_id: int) -> User:
        """The user with this id; ``NotFound`` if there is none."""
        user = self._session.get(User, user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

    def get_by_username(self, username: str) -> User | None:
        """The user with exactly this username, if any."""
        return self._session.scalar(select(User).where(User.username == username))

    def list(self) -> builtins.list[User]:
        """Every user, by username."""
        return builtins.list(self._session.scalars(select(User).order_by(User.username)))

    def count(self) -> int:
        """How many users exist."""
        return self._session.scalar(select(func.count()).select_from(User)) or 0

    def delete(self, user: User) -> None:
        """Remove ``user``; their sessions go with them (ON DELETE CASCADE)."""
        self._session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        self._session.delete(user)
        self._session.flush()

    def set_password_hash(self, user: User, password_hash: str) -> None:
        """Replace the stored hash (a new password, or stronger parameters)."""
        user.password_hash = check_text(User.password_hash, password_hash)
        self._session.flush()

    def record_failure(self, user: User, lock_after: int, lock_until: datetime) -> None:
        """Count a failed login; at ``lock_after`` consecutive failures, lock until a time."""
        user.failed_logins += 1
        if user.failed_logins >= lock_after:
            user.locked_until = lock_until
            user.failed_logins = 0
        self._session.flush()

    def record_success(self, user: User) -> None:
        """A successful login clears the failure count and any expired lock."""
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = utcnow()
        self._session.flush()


class UserSessionRepository:
    """Reads and writes the ``user_sessions`` table (rows keyed by the token's SHA-256)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        token_hash: str,
        user_id: int,
        csrf_token: str,
        expires_at: datetime,
        address: str = "",
        user_agent: str = "",
    ) -> UserSession:
        """Store a new session."""
        row = UserSession(
            token_hash=token_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            expires_at=expires_at,
            address=address[: _length(UserSession.address)],
            user_agent=user_agent[: _length(UserSession.user_agent)],
        )
        self._session.add(row)
        flush_or_conflict(self._session, "session token clash; log in again")
        return row

    def by_token_hash(self, token_hash: str) -> UserSession | None:
        """The session with this token hash (its user loaded), expired or not."""
        statement = (
            select(UserSession)
            .options(joinedload(UserSession.user))
            .where(UserSession.token_hash == token_hash)
        )
        return self._session.scalar(statement)

    def touch(self, row: UserSession, expires_at: datetime) -> None:
        """Record activity on a session and move its expiry."""
        row.last_seen_at = utcnow()
        row.expires_at = expires_at
        self._session.flush()

    def delete(self, row: UserSession) -> None:
        """End one session."""
        self._session.delete(row)
        self._session.flush()

    def delete_for_user(self, user_id: int) -> int:
        """End every session of a user; how many there were."""
        result = self._session.execute(delete(UserSession).where(UserSession.user_id == user_id))
        self._session.flush()
        return int(getattr(result, "rowcount", 0) or 0)

    def delete_expired(self, now: datetime) -> int:
        """Remove sessions that expired before ``now``; how many."""
        result = self._session.execute(delete(UserSession).where(UserSession.expires_at < now))
        self._session.flush()
        return int(getattr(result, "rowcount", 0) or 0)


class LoginAttemptRepository:
    """Reads and writes the ``login_attempts`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, username: str, address: str, succeeded: bool) -> LoginAttempt:
        """Record one attempt (the username as typed, cut to the column's length)."""
        attempt = LoginAttempt(
            attempted_at=utcnow(),
            username=username[: _length(LoginAttempt.username)],
            address=address[: _length(LoginAttempt.address)],
            succeeded=succeeded,
        )
        self._session.add(attempt)
        self._session.flush()
        return attempt

    def failures_from(self, address: str, since: datetime) -> builtins.list[datetime]:
        """Times of the failed attempts from ``address`` since ``since``, oldest first."""
        statement = (
            select(LoginAttempt.attempted_at)
            .where(
                LoginAttempt.address == address[: _length(LoginAttempt.address)],
                LoginAttempt.attempted_at >= since,
                LoginAttempt.succeeded.is_(False),
            )
            .order_by(LoginAttempt.attempted_at)
        )
        return builtins.list(self._session.scalars(statement))

    def delete_before(self, moment: datetime) -> int:
        """Forget attempts older than ``moment``; how many."""
        result = self._session.execute(
            delete(LoginAttempt).where(LoginAttempt.attempted_at < moment)
        )
        self._session.flush()
        return int(getattr(result, "rowcount", 0) or 0)


def _length(column: InstrumentedAttribute[str]) -> int:
    """The declared length of a String column (where over-long input is cut)."""
    column_type = column.expression.type
    assert isinstance(column_type, String)
    assert column_type.length is not None
    return column_type.length


def _taken(username: str) -> str:
    return f"a user named {username!r} already exists"
