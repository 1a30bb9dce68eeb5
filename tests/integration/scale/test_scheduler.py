"""Scheduled jobs run on exactly one replica at a time, and move on when that one dies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facewatch.server.infra.scheduler import (
    FileLeaderLock,
    LeaderLock,
    PostgresLeaderLock,
    Scheduler,
    create_leader_lock,
    lock_key,
)
from facewatch.store.db import Database


@pytest.fixture
def locks(database: Database, tmp_path: Path) -> Iterator[list[LeaderLock]]:
    """Three replicas' locks on the test database (each PostgreSQL one on its own session)."""
    made = [create_leader_lock(database, tmp_path, "jobs") for _ in range(3)]
    yield made
    for lock in made:
        lock.release()


def test_the_lock_suits_the_backend(database: Database, locks: list[LeaderLock]) -> None:
    expected = PostgresLeaderLock if database.dialect == "postgresql" else FileLeaderLock
    assert all(isinstance(lock, expected) for lock in locks)


def test_only_one_replica_holds_the_lock(locks: list[LeaderLock]) -> None:
    taken = [lock.try_acquire() for lock in locks]
    assert taken == [True, False, False]
    assert [lock.still_held() for lock in locks] == [True, False, False]


def test_a_released_lock_goes_to_another_replica(locks: list[LeaderLock]) -> None:
    first, second, _ = locks
    assert first.try_acquire()
    first.release()
    assert second.try_acquire()
    assert not first.try_acquire()


def test_two_schedulers_run_a_job_on_one_replica_only(locks: list[LeaderLock]) -> None:
    runs: list[str] = []
    schedulers = {name: Scheduler(lock) for name, lock in zip("ab", locks, strict=False)}
    for name, scheduler in schedulers.items():
        scheduler.add("retention", 0.0, lambda name=name: runs.append(name))  # type: ignore[misc]
    for _ in range(5):
        for scheduler in schedulers.values():
            scheduler.tick()
    assert runs == ["a"] * 5
    assert [s.is_leader for s in schedulers.values()] == [True, False]


def test_when_the_leader_stops_another_replica_takes_over(locks: list[LeaderLock]) -> None:
    runs: list[str] = []
    leader, follower = Scheduler(locks[0]), Scheduler(locks[1])
    leader.add("recluster", 0.0, lambda: runs.append("leader"))
    follower.add("recluster", 0.0, lambda: runs.append("follower"))
    leader.tick()
    follower.tick()
    leader.stop()
    follower.tick()
    assert runs == ["leader", "follower"]


def test_a_job_runs_again_only_after_its_interval(locks: list[LeaderLock]) -> None:
    runs: list[int] = []
    scheduler = Scheduler(locks[0])
    scheduler.add("hourly", 3600.0, lambda: runs.append(1))
    scheduler.tick()
    scheduler.tick()
    assert runs == [1]


def test_a_failing_job_is_counted_and_does_not_stop_the_others(locks: list[LeaderLock]) -> None:
    def fail() -> None:
        raise RuntimeError("boom")

    runs: list[int] = []
    scheduler = Scheduler(locks[0])
    failing = scheduler.add("broken", 0.0, fail)
    scheduler.add("fine", 0.0, lambda: runs.append(1))
    scheduler.tick()
    assert (failing.failures, runs) == (1, [1])


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_leader_whose_database_session_dies_loses_the_lock_to_another(
    database: Database, locks: list[LeaderLock]
) -> None:
    first, second, _ = locks
    assert first.try_acquire()
    # What PostgreSQL does when a replica's process or network dies: its session ends.
    with database.engine.connect() as connection:
        connection.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
        )
    assert second.try_acquire()
    assert not first.still_held()


@pytest.mark.parametrize("name", ["scheduler", "retention", "a much longer job name"])
def test_lock_keys_are_stable_signed_64_bit_integers(name: str) -> None:
    key = lock_key(name)
    assert key == lock_key(name)
    assert -(2**63) <= key < 2**63
