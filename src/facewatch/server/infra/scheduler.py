"""Scheduled jobs (retention, re-clustering) on exactly one replica at a time.

``Scheduler`` runs its jobs only while it holds a ``LeaderLock``: on PostgreSQL a
session-level advisory lock on a dedicated connection, which the server frees the moment
that replica's session ends (a crash, a lost node), so another replica takes over within a
tick; on SQLite an exclusive ``flock`` on a file beside the database (processes of one box).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from facewatch.server.infra.sync import dedicated_connection
from facewatch.store.db import Database

logger = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    digest = hashlib.sha256(f"facewatch:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LeaderLock(ABC):
    """A lock at most one replica holds at a time; held until released or the holder dies."""

    @abstractmethod
    def try_acquire(self) -> bool:
        """Take the lock if it is free; whether this replica holds it now."""

    @abstractmethod
    def still_held(self) -> bool:
        """Whether this replica still holds the lock (checks the connection)."""

    @abstractmethod
    def release(self) -> None:
        """Give the lock up (a no-op if not held)."""


class PostgresLeaderLock(LeaderLock):
    """A session-level advisory lock on a dedicated connection: PostgreSQL frees it when
    that connection ends, so a replica that crashes hands the lock over by itself."""

    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self.key = lock_key(name)
        self._stack: contextlib.ExitStack | None = None
        self._connection: Any = None

    def try_acquire(self) -> bool:
        if self._connection is not None:
            return self.still_held()
        stack = contextlib.ExitStack()
        try:
            connection = stack.enter_context(dedicated_connection(self._db))
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        except Exception:
            stack.close()
            logger.warning("cannot reach the database to take the scheduler lock")
            return False
        if not (row and row[0]):
            stack.close()
            return False
        self._stack, self._connection = stack, connection
        return True

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute("SELECT 1")
        except Exception:
            logger.warning("lost the connection that held the scheduler lock")
            self.release()
            return False
        return True

    def release(self) -> None:
        stack, self._stack, self._connection = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                stack.close()  # closing the session frees the lock


class FileLeaderLock(LeaderLock):
    """An exclusive ``flock`` on a file beside the SQLite database (processes of one box)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()  # closing the file drops the flock


def create_leader_lock(db: Database, data_dir: Path, name: str = "scheduler") -> LeaderLock:
    """An advisory lock on PostgreSQL; a lock file beside a SQLite database (or data_dir)."""
    if db.dialect == "postgresql":
        return PostgresLeaderLock(db, name)
    database = db.url.database or ""
    folder = Path(database).expanduser().parent if database not in ("", ":memory:") else data_dir
    return FileLeaderLock(folder / f".facewatch-{name}.lock")


@dataclass(slots=True)
class Job:
    """A task run every ``interval`` seconds on exactly one replica."""

    name: str
    interval: float
    run: Callable[[], object]
    next_due: float = 0.0
    runs: int = 0
    failures: int = 0


class Scheduler:
    """Runs jobs on one thread, only while this replica holds the leader lock."""

    def __init__(self, lock: LeaderLock, *, tick: float = 1.0) -> None:
        self._lock = lock
        self._tick = tick
        self._jobs: list[Job] = []
        self._jobs_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.is_leader = False

    def add(self, name: str, interval: float, run: Callable[[], object]) -> Job:
        """Run ``run()`` every ``interval`` seconds on whichever replica leads."""
        job = Job(name, interval, run)
        with self._jobs_lock:
            self._jobs.append(job)
        return job

    @property
    def jobs(self) -> list[Job]:
        with self._jobs_lock:
            return list(self._jobs)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._lock.release()
        self.is_leader = False

    def tick(self) -> None:
        """Check leadership, then run the jobs that are due (if leading)."""
        leading = self._lock.still_held() or self._lock.try_acquire()
        if leading != self.is_leader:
            logger.info("this replica %s the scheduled jobs", "runs" if leading else "left")
            self.is_leader = leading
        if leading:
            self._run_due(self.jobs)

    def _run_due(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            now = time.monotonic()
            if now < job.next_due or self._stop.is_set():
                continue
            job.next_due = now + job.interval
            try:
                job.run()
                job.runs += 1
            except Exception:
                job.failures += 1
                logger.exception("scheduled job %s failed", job.name)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                logger.exception("scheduler tick failed")
            self._stop.wait(self._tick)
