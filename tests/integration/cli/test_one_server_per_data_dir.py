"""Two servers on one data directory: the second is refused before it loads anything.

``facewatch serve`` checks its port first, then holds an exclusive lock on an embedded
(SQLite, file blobs) data directory; commands that change much at once take the same lock,
commands that only read do not.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime
from facewatch.store.data_lock import DataDirBusy, holding_data_dir


def facewatch(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACEWATCH_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-c", "from facewatch.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
def held(tmp_path: Path) -> Iterator[Path]:
    """A data directory whose lock a running server holds (this process, as it would)."""
    with holding_data_dir(Settings(data_dir=tmp_path), "facewatch serve on 127.0.0.1:8000"):
        yield tmp_path


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_serve_on_a_busy_port_stops_before_loading_anything(tmp_path: Path, busy_port: int) -> None:
    result = facewatch(tmp_path / "data", "serve", "--port", str(busy_port))
    assert result.returncode == 1
    assert _error_line(result) == (
        f"error: cannot listen on 127.0.0.1:{busy_port}: address already in use"
    )
    assert "Errno" not in result.stderr
    assert not (tmp_path / "data").exists()  # no database, no gallery snapshot


def test_a_second_server_on_a_data_dir_is_refused_naming_the_first(
    held: Path, busy_port: int
) -> None:
    with socket.socket() as probe:  # a free port, so that only the lock can refuse
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    before = sorted(p.name for p in held.iterdir())
    result = facewatch(held, "serve", "--port", str(port))
    assert result.returncode == 1
    line = _error_line(result)
    assert f"is in use by facewatch serve on 127.0.0.1:8000 (pid {os.getpid()})" in line
    assert sorted(p.name for p in held.iterdir()) == before  # nothing written: no snapshot


def test_a_bulk_writing_command_is_refused_but_reading_ones_run(held: Path) -> None:
    Runtime.open(Settings(data_dir=held)).close()  # a migrated database, as the server made
    refused = facewatch(held, "people", "remove", "anyone")
    assert refused.returncode == 1
    assert "is in use by facewatch serve" in _error_line(refused)
    listed = facewatch(held, "people", "list")
    assert listed.returncode == 0, listed.stderr


def test_the_lock_is_released_when_the_holder_ends(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with holding_data_dir(settings, "first"), pytest.raises(DataDirBusy):  # noqa: SIM117
        with holding_data_dir(settings, "second"):
            pass
    with holding_data_dir(settings, "third"):
        assert "third" in (tmp_path / "facewatch.lock").read_text()


def test_postgresql_and_s3_need_no_lock(tmp_path: Path) -> None:
    shared = Settings(
        data_dir=tmp_path, database_url="postgresql+psycopg://db/fw", blob_url="s3://b/p"
    )
    with holding_data_dir(shared, "replica 1"), holding_data_dir(shared, "replica 2"):
        assert not (tmp_path / "facewatch.lock").exists()
