"""Dashboard sessions: log in (with rate limits), find the user of a cookie, log out.

Sessions are server-side and opaque: the cookie carries 256 random bits and the database
keeps only their SHA-256, with the user, the expiry and the session's CSRF token. Compared
with a signed cookie this needs no signing secret to manage or rotate, and a session ends
for good the moment it is logged out, its user removed or its role changed, on every
replica, because each request looks the row up. The cost is one indexed read per
dashboard request, which is small next to the page itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from facewatch.config import Settings
from facewatch.errors import TooManyRequests, Unauthorized
from facewatch.server.infra.runtime import Runtime
from facewatch.server.services.users import (
    Permission,
    check_credentials,
    role_allows,
)
from facewatch.store.models import User, UserSession, utcnow
from facewatch.store.unit_of_work import UnitOfWork

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
# Recording every request would make each page view a write.
TOUCH_RESOLUTION = timedelta(minutes=1)
COOKIE_NAME = "facewatch_session"
# Browsers accept a "__Host-" cookie only if Secure, host-only and for path "/": another
# subdomain or a plain-http page can then neither set nor overwrite it.
SECURE_COOKIE_NAME = "__Host-facewatch_session"


class LoginThrottled(TooManyRequests):
    """Too many failed logins from one address: wait ``retry_after`` seconds (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins from this address; retry in {retry_after} s",
            retry_after=retry_after,
        )


@dataclass(frozen=True, slots=True)
class SessionUser:
    """Who is behind a session cookie, and the session's CSRF token."""

    session_id: int
    user_id: int
    username: str
    role: str
    csrf_token: str
    expires_at: datetime

    def can(self, permission: Permission) -> bool:
        """True when this user's role grants ``permission``."""
        return role_allows(self.role, permission)

    def csrf_matches(self, token: str | None) -> bool:
        """True when ``token`` is this session's CSRF token (compared in constant time)."""
        return token is not None and hmac.compare_digest(token, self.csrf_token)


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the token goes in the cookie and is never stored."""

    token: str
    user: SessionUser
    max_age_seconds: int


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored for a session token (tokens are random: no salt)."""
    return hashlib.sha256(token.encode()).hexdigest()


def cookie_name(secure: bool) -> str:
    """The session cookie's name: with the ``__Host-`` prefix when it is Secure."""
    return SECURE_COOKIE_NAME if secure else COOKIE_NAME


def log_in(
    runtime: Runtime, username: str, password: str, address: str, user_agent: str = ""
) -> NewSession:
    """Check the credentials and open a session.

    Raises ``LoginThrottled`` when ``address`` failed too often lately, ``AccountLocked``
    for a locked account and ``Unauthorized`` for wrong credentials; every attempt is
    recorded.
    """
    settings = runtime.settings
    with runtime.uow() as uow:
        _forget_old(uow, settings)
        _raise_if_throttled(uow, settings, address)
        actor = f"user:{username[:64]}"
        try:
            user = check_credentials(uow, settings, username, password)
        except Unauthorized as exc:
            uow.login_attempts.add(username, address, succeeded=False)
            details = {"reason": getattr(exc, "reason", exc.code)}  # locked: only said here
            uow.audit.add("user.login", outcome="denied", details=details, actor=actor)
            uow.commit()
            raise
        uow.login_attempts.add(username, address, succeeded=True)
        new = _open(uow, settings, user, address, user_agent)
        uow.audit.add("user.login", actor=actor, address=address)
        uow.commit()
    logger.info("user %s logged in", new.user.username)
    return new


def resolve(runtime: Runtime, token: str | None) -> SessionUser | None:
    """The user of a live session token, or None; extends the session's idle expiry."""
    if not token:
        return None
    settings = runtime.settings
    with runtime.uow() as uow:
        row = uow.user_sessions.by_token_hash(hash_token(token))
        if row is None:
            return None
        now = utcnow()
        if row.expires_at <= now:
            uow.user_sessions.delete(row)
            uow.commit()
            return None
        if now - row.last_seen_at >= TOUCH_RESOLUTION:
            uow.user_sessions.touch(row, _expiry(settings, row.created_at, now))
            uow.commit()
        return _session_user(row, row.user)


def log_out(runtime: Runtime, token: str | None) -> None:
    """End the session of ``token`` if there is one."""
    if not token:
        return
    with runtime.uow() as uow:
        row = uow.user_sessions.by_token_hash(hash_token(token))
        if row is None:
            return
        username = row.user.username
        uow.user_sessions.delete(row)
        uow.audit.add("user.logout", actor=f"user:{username}")
        uow.commit()
    logger.info("user %s logged out", username)


def _open(
    uow: UnitOfWork, settings: Settings, user: User, address: str, user_agent: str
) -> NewSession:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    expires_at = _expiry(settings, now, now)
    row = uow.user_sessions.add(
        token_hash=hash_token(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
        expires_at=expires_at,
        address=address,
        user_agent=user_agent,
    )
    max_age = int(timedelta(hours=settings.session_max_hours).total_seconds())
    return NewSession(token=token, user=_session_user(row, user), max_age_seconds=max_age)


def _expiry(settings: Settings, created_at: datetime, now: datetime) -> datetime:
    """Idle timeout from now, capped by the absolute lifetime from login."""
    idle = now + timedelta(minutes=settings.session_idle_minutes)
    absolute = created_at + timedelta(hours=settings.session_max_hours)
    return min(idle, absolute)


def _session_user(row: UserSession, user: User) -> SessionUser:
    return SessionUser(
        session_id=row.id,
        user_id=user.id,
        username=user.username,
        role=user.role,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


def _raise_if_throttled(uow: UnitOfWork, settings: Settings, address: str) -> None:
    window = timedelta(minutes=settings.login_address_window_minutes)
    now = utcnow()
    failures = uow.login_attempts.failures_from(address, now - window)
    if len(failures) < settings.login_address_limit:
        return
    # The window frees a slot when the oldest counted failure leaves it.
    oldest_counted = failures[len(failures) - settings.login_address_limit]
    retry_after = max(1, int((oldest_counted + window - now).total_seconds()) + 1)
    logger.warning("login throttled for address %s", address)
    raise LoginThrottled(retry_after)


def _forget_old(uow: UnitOfWork, settings: Settings) -> None:
    """Drop expired sessions and attempts older than any window still looks at."""
    now = utcnow()
    uow.user_sessions.delete_expired(now)
    uow.login_attempts.delete_before(now - timedelta(minutes=settings.login_address_window_minutes))
