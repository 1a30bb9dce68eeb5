"""facewatch users create / list / remove on a data dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from facewatch.cli import app
from facewatch.errors import FacewatchError

PASSWORD = "a long enough password"


@pytest.fixture
def runner(tmp_path: Path) -> CliRunner:
    return CliRunner(env={"FACEWATCH_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"})


def create(runner: CliRunner, name: str, role: str, password: str = PASSWORD) -> Result:
    args = ["users", "create", name, "--role", role, "--password-stdin"]
    return runner.invoke(app, args, input=password + "\n")


def error_of(result: Result) -> str:
    """The message ``facewatch`` prints on one line for a Facewatch error."""
    assert isinstance(result.exception, FacewatchError), result.output
    return result.exception.message


def test_a_user_made_with_a_password_on_stdin_is_listed_with_its_role(runner: CliRunner) -> None:
    assert create(runner, "alice", "operator").output == "created user alice (operator)\n"
    listing = runner.invoke(app, ["users", "list"]).output
    assert "alice" in listing
    assert "operator" in listing
    assert PASSWORD not in listing


def test_removing_a_user_takes_them_off_the_list(runner: CliRunner) -> None:
    create(runner, "bob", "viewer")
    assert runner.invoke(app, ["users", "remove", "bob"]).exit_code == 0
    assert "bob" not in runner.invoke(app, ["users", "list"]).output


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("carol", "boss", PASSWORD, "unknown role 'boss'"),
        ("carol", "admin", "short", "at least 12 characters"),
        ("bad name!", "admin", PASSWORD, "invalid username"),
    ],
)
def test_bad_input_is_refused_with_one_line(
    runner: CliRunner, name: str, role: str, password: str, message: str
) -> None:
    assert message in error_of(create(runner, name, role, password))
    assert "carol" not in runner.invoke(app, ["users", "list"]).output


def test_a_taken_name_is_refused(runner: CliRunner) -> None:
    create(runner, "dave", "admin")
    assert "already exists" in error_of(create(runner, "dave", "viewer"))
