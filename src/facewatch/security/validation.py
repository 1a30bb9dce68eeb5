"""``facewatch config validate``: refuse settings unfit for a production deployment.

Checks, each a *problem* with a level: ``error`` refuses the configuration (in
development mode, every error is only a warning), ``warning`` is shown and passes.

- secrets (the /metrics token, S3 secret key, database and MQTT passwords) must not be a
  placeholder shipped in examples (``CHANGE_ME``, ``change-me-...``, ``minioadmin``...), a
  common word, or shorter than ``MIN_SECRET_LENGTH``;
- face data is biometric: an encryption key is required, and must be a valid one;
- anonymous access to the compat API is refused; plain-http public URLs and binding all
  interfaces without TLS are flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from facewatch.config import Settings
from facewatch.errors import ConfigurationError
from facewatch.security.crypto import parse_master_key

MIN_SECRET_LENGTH = 16
# Placeholders of this repository's examples and of common images, and words people use.
KNOWN_DEFAULTS = frozenset(
    {
        "admin",
        "changeme",
        "change_me",
        "change-me",
        "default",
        "facewatch",
        "letmein",
        "minioadmin",
        "password",
        "postgres",
        "root",
        "secret",
        "test",
        "token",
    }
)
_PLACEHOLDER = re.compile(r"change[-_ ]?me|example|placeholder|your[-_ ]", re.IGNORECASE)


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: which setting, how bad, and what to do."""

    setting: str
    level: Level
    message: str

    def __str__(self) -> str:
        return f"{self.level.value}: {self.setting}: {self.message}"


def validate(settings: Settings) -> list[Problem]:
    """Every problem of ``settings``; errors become warnings in development mode."""
    problems = [*_secrets(settings), *_encryption(settings), *_exposure(settings)]
    if settings.development_mode:
        return [Problem(p.setting, Level.WARNING, p.message) for p in problems]
    return problems


def has_errors(problems: list[Problem]) -> bool:
    return any(problem.level is Level.ERROR for problem in problems)


def weakness(secret: str) -> str | None:
    """Why ``secret`` is weak or a known default; None if it looks strong enough."""
    lowered = secret.strip().lower()
    if lowered in KNOWN_DEFAULTS or _PLACEHOLDER.search(secret):
        return "is a default or placeholder value"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(secret)) < 6:
        return "repeats too few characters"
    return None


def _secrets(settings: Settings) -> Iterator[Problem]:
    named: list[tuple[str, str | None]] = [
        ("metrics_token", _secret(settings.metrics_token)),
        ("s3_secret_access_key", _secret(settings.s3_secret_access_key)),
        ("database_url", _url_password(settings.database_url)),
        ("mqtt_url", _url_password(settings.mqtt_url)),
    ]
    for name, value in named:
        if value is None:
            continue
        reason = weakness(value)
        if reason is not None:
            yield Problem(name, Level.ERROR, f"the secret {reason}: use a long random one")


def _encryption(settings: Settings) -> Iterator[Problem]:
    if settings.encryption_key is None:
        yield Problem(
            "encryption_key",
            Level.ERROR,
            "not set: embeddings and face images would be stored in clear "
            "(make a key with `facewatch admin new-key`)",
        )
        return
    keys = [("encryption_key", settings.encryption_key.get_secret_value())]
    if settings.encryption_old_keys is not None:
        old = settings.encryption_old_keys.get_secret_value().split(",")
        keys += [("encryption_old_keys", text) for text in old if text.strip()]
    for name, text in keys:
        try:
            parse_master_key(text)
        except ConfigurationError as exc:
            yield Problem(name, Level.ERROR, exc.message)


def _exposure(settings: Settings) -> Iterator[Problem]:
    if settings.compat_allow_anonymous:
        yield Problem(
            "compat_allow_anonymous", Level.ERROR, "anyone reaching the server could enrol people"
        )
    if settings.public_url and settings.public_url.startswith("http://"):
        yield Problem("public_url", Level.WARNING, "plain http: put TLS in front of it")
    if settings.host not in ("127.0.0.1", "localhost", "::1") and settings.tls_cert is None:
        yield Problem(
            "host",
            Level.WARNING,
            f"binds {settings.host} without TLS: only behind a TLS-terminating proxy",
        )
    for name in ("tls_cert", "tls_key"):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            yield Problem(name, Level.ERROR, f"no such file: {path}")


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return None if getter is None else str(getter())


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None
