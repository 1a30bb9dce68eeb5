"""One server (or one bulk-writing command) at a time on an embedded data directory.

With SQLite or the file blob store, the data directory *is* the database and the blobs:
a second ``facewatch serve`` on it would load everything, keep its own gallery, run its own
jobs and, on its way out, write its gallery snapshot over the running server's. So the
server, and the commands that change much at once (``people add``, ``admin migrate``...),
hold an exclusive ``flock`` on ``<data_dir>/facewatch.lock`` while they run, and write who
they are into it; a second one is refused with one line naming the holder. Commands that
only read, and the key and user commands (single transactions the running server follows),
run beside a server. The kernel drops the lock when its process dies, so a crash leaves no
stale lock behind. With PostgreSQL and S3 nothing is embedded and replicas share freely.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facewatch.config import Settings
from facewatch.errors import ConfigurationError

LOCK_FILE = "facewatch.lock"


class DataDirBusy(ConfigurationError):
    """Another Facewatch process holds the data directory."""

    code = "data_dir_busy"


def is_embedded(settings: Settings) -> bool:
    """Whether the data directory holds the database (SQLite) or the blobs (files)."""
    database = settings.database_url or ""
    blobs = settings.blob_url or ""
    return not database or database.startswith("sqlite") or not blobs.startswith("s3://")


@contextmanager
def holding_data_dir(settings: Settings, holder: str) -> Iterator[None]:
    """Hold the data directory's lock while the block runs (nothing if it is not embedded);
    ``DataDirBusy`` naming the holder if another process has it."""
    if not is_embedded(settings):
        yield
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _lock(fd, path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder} (pid {os.getpid()})\n".encode(), 0)
        yield
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the lock


def _lock(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "another process"
        raise DataDirBusy(
            f"the data directory {path.parent} is in use by {holder}; stop it first "
            "(commands that only read may run beside it)"
        ) from None
