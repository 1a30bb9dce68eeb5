"""The analysis pool: a worker's death costs only the image that caused it, and images
whose client gave up are never analysed. Workers run ``support_workers.fake_serve``."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from starlette.requests import ClientDisconnect

from facewatch.config import Settings
from facewatch.errors import FaceRejected
from facewatch.server.errors import status_for
from facewatch.server.infra.workers import (
    AnalysisPool,
    analyze_async,
    analyze_while_connected,
)
from facewatch.types import Face
from support_workers import CRASH, SLOW, analysed_tags, fake_serve, tagged


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, analysis_workers=1, analysis_batch_size=16)


@pytest.fixture
def pool(settings: Settings) -> Iterator[AnalysisPool]:
    started = AnalysisPool(settings, serve=fake_serve)
    started.warm_up()
    yield started
    started.close()


def wait_for(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def busy(pool: AnalysisPool, settings: Settings) -> Future[list[Face]]:
    """Hold the one worker with a slow image, so that what is submitted next queues."""
    slow = pool.submit(tagged(SLOW))
    wait_for(lambda: SLOW in analysed_tags(settings))
    return slow


def test_an_image_that_kills_its_worker_fails_alone_and_its_batch_is_analysed(
    pool: AnalysisPool, settings: Settings
) -> None:
    slow = busy(pool, settings)
    futures = [pool.submit(tagged(tag)) for tag in (1, 2, CRASH, 3, 4)]

    results = [future.exception(timeout=60) for future in futures]

    assert slow.result() == []
    culprit = results.pop(2)
    assert isinstance(culprit, FaceRejected)
    assert status_for(culprit) == 422
    assert results == [None, None, None, None]
    assert pool.stats.largest_batch == 5  # they were queued in one batch with the culprit
    assert pool.stats.worker_deaths == 2  # the batch's death, then the culprit's alone


def test_a_worker_killed_mid_batch_costs_no_request_of_its_batch(
    pool: AnalysisPool, settings: Settings
) -> None:
    slow = busy(pool, settings)
    futures = [pool.submit(tagged(SLOW)), *(pool.submit(tagged(tag)) for tag in (5, 6))]
    slow.result()
    wait_for(lambda: analysed_tags(settings).count(SLOW) == 2)  # the batch has begun
    [pid] = pool.worker_pids()

    os.kill(pid, signal.SIGKILL)

    assert [future.result(timeout=60) for future in futures] == [[], [], []]
    assert pool.worker_pids() != [pid]


def test_a_worker_killed_while_idle_costs_nothing(pool: AnalysisPool) -> None:
    [pid] = pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)

    assert pool.analyze(tagged(7)) == []
    assert pool.worker_pids() != [pid]


def test_a_cancelled_job_is_not_analysed(pool: AnalysisPool, settings: Settings) -> None:
    slow = busy(pool, settings)
    abandoned = pool.submit(tagged(8))
    wanted = pool.submit(tagged(9))

    assert abandoned.cancel()
    assert wanted.result(timeout=30) == []
    assert slow.result() == []
    assert 8 not in analysed_tags(settings)
    assert pool.stats.dropped == 1


def test_cancelling_the_awaiting_request_drops_its_image(
    pool: AnalysisPool, settings: Settings
) -> None:
    async def abandon() -> None:
        waiting = asyncio.create_task(analyze_async(pool, tagged(10)))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await analyze_async(pool, tagged(11)) == []

    slow = busy(pool, settings)
    asyncio.run(abandon())

    assert slow.result() == []
    assert 10 not in analysed_tags(settings)
    assert 11 in analysed_tags(settings)


class FakeRequest:
    """The seam of ``analyze_while_connected``: a request whose client leaves after a while."""

    def __init__(self, gone_after: float) -> None:
        self._gone_at = time.monotonic() + gone_after

    async def is_disconnected(self) -> bool:
        return time.monotonic() >= self._gone_at


def test_a_client_that_goes_away_has_its_queued_image_dropped(
    pool: AnalysisPool, settings: Settings
) -> None:
    async def leave() -> None:
        request = FakeRequest(gone_after=0.1)
        with pytest.raises(ClientDisconnect):
            await analyze_while_connected(request, pool, tagged(12), poll_seconds=0.05)  # type: ignore[arg-type]

    slow = busy(pool, settings)
    asyncio.run(leave())

    assert slow.result() == []
    assert 12 not in analysed_tags(settings)
    assert pool.stats.dropped == 1


def test_a_client_still_there_gets_its_answer(pool: AnalysisPool) -> None:
    request = FakeRequest(gone_after=3600)
    found = asyncio.run(analyze_while_connected(request, pool, tagged(13), poll_seconds=0.05))  # type: ignore[arg-type]
    assert found == []
