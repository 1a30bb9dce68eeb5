"""``facewatch config validate`` exits 1 on default or weak secrets, 0 on a safe setup, and
only warns in development mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from facewatch.cli import app
from facewatch.security.crypto import new_master_key

SAFE = {
    "FACEWATCH_ENCRYPTION_KEY": new_master_key(),
    "FACEWATCH_METRICS_TOKEN": "t0K3n-9xQ2-vL7w-Rp4z",
}


@pytest.mark.parametrize(
    ("env", "code", "said"),
    [
        (SAFE, 0, "configuration OK"),
        ({**SAFE, "FACEWATCH_METRICS_TOKEN": "CHANGE_ME"}, 1, "metrics_token"),
        ({**SAFE, "FACEWATCH_DATABASE_URL": "postgresql://fw:postgres@db/fw"}, 1, "database_url"),
        ({"FACEWATCH_METRICS_TOKEN": "t0K3n-9xQ2-vL7w-Rp4z"}, 1, "encryption_key"),
        (
            {"FACEWATCH_DEVELOPMENT_MODE": "true", "FACEWATCH_METRICS_TOKEN": "CHANGE_ME"},
            0,
            "development mode",
        ),
    ],
    ids=["safe", "placeholder-token", "weak-db-password", "no-key", "development"],
)
def test_validate_refuses_unsafe_settings_outside_development(
    tmp_path: Path, env: dict[str, str], code: int, said: str
) -> None:
    result = CliRunner().invoke(app, ["config", "validate", "--data-dir", str(tmp_path)], env=env)
    assert result.exit_code == code, result.output
    assert said in result.output
