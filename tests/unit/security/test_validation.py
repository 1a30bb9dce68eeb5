"""``config validate``: default and weak secrets, a missing key, risky exposure."""

from __future__ import annotations

from pathlib import Path

import pytest

from facewatch.config import Settings
from facewatch.security.crypto import new_master_key
from facewatch.security.validation import Level, has_errors, validate, weakness

GOOD_KEY = new_master_key()


def _settings(**values: object) -> Settings:
    return Settings(**{"data_dir": Path("/tmp/fw-validate"), "encryption_key": GOOD_KEY, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "secret",
    [
        "CHANGE_ME",
        "change-me-to-a-long-random-string",
        "minioadmin",
        "password",
        "short",
        "aaaaaaaaaaaaaaaaaaaa",
        "your-token-here-please",
    ],
)
def test_default_placeholder_and_weak_secrets_are_weak(secret: str) -> None:
    assert weakness(secret) is not None


def test_a_long_random_secret_is_fine() -> None:
    assert weakness("q8Yz2N4vL0pR7sT1wX3c") is None


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"metrics_token": "CHANGE_ME"}, "metrics_token"),
        ({"s3_secret_access_key": "minioadmin"}, "s3_secret_access_key"),
        ({"database_url": "postgresql://facewatch:facewatch@db/facewatch"}, "database_url"),
        ({"mqtt_url": "mqtt://ha:password@broker:1883"}, "mqtt_url"),
        ({"compat_allow_anonymous": True}, "compat_allow_anonymous"),
        ({"encryption_key": None}, "encryption_key"),
        ({"encryption_old_keys": "bm90IGEga2V5"}, "encryption_old_keys"),
    ],
)
def test_each_unsafe_setting_is_refused(values: dict[str, object], setting: str) -> None:
    problems = validate(_settings(**values))
    assert has_errors(problems)
    assert setting in {p.setting for p in problems if p.level is Level.ERROR}


def test_a_safe_configuration_passes() -> None:
    problems = validate(
        _settings(metrics_token="q8Yz2N4vL0pR7sT1wX3c", database_url="sqlite:///x.db")
    )
    assert not has_errors(problems)


def test_development_mode_turns_errors_into_warnings() -> None:
    problems = validate(_settings(encryption_key=None, development_mode=True))
    assert problems
    assert not has_errors(problems)
    assert all(p.level is Level.WARNING for p in problems)


def test_binding_every_interface_without_tls_is_flagged() -> None:
    problems = validate(_settings(host="0.0.0.0"))
    assert [p.setting for p in problems] == ["host"]
    assert problems[0].level is Level.WARNING
