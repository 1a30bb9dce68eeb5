"""The bounded worker: offering never blocks; a full queue drops and counts."""

from __future__ import annotations

import threading

from facewatch.server.events.worker import Worker


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    release = threading.Event()
    worker: Worker[int] = Worker("test", lambda _: release.wait(5), maxsize=2)
    worker.start()
    offered = [worker.offer(i) for i in range(10)]  # one is being handled, two wait
    release.set()
    worker.stop(5)
    stats = worker.stats()
    assert offered.count(False) == stats.dropped >= 7
    assert stats.accepted + stats.dropped == 10
    assert stats.handled == stats.accepted


def test_a_failing_item_is_counted_and_the_worker_goes_on() -> None:
    handled: list[int] = []

    def handle(item: int) -> None:
        if item == 1:
            raise ValueError("bad item")
        handled.append(item)

    worker: Worker[int] = Worker("test", handle, maxsize=10)
    worker.start()
    for item in range(3):
        worker.offer(item)
    worker.stop(5)
    assert handled == [0, 2]
    assert (worker.stats().failed, worker.stats().handled) == (1, 2)


def test_stopping_handles_what_was_queued() -> None:
    handled: list[int] = []
    worker: Worker[int] = Worker("test", handled.append, maxsize=100)
    worker.start()
    for item in range(50):
        worker.offer(item)
    worker.stop(5)
    assert handled == list(range(50))
