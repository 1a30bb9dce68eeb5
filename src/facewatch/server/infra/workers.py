"""Face analysis in worker processes, behind a micro-batching queue.

dlib's detector and landmarks hold the GIL, so one server process analyses on one core
however many request threads it has. The ``AnalysisPool`` runs one ``FaceAnalyzer`` per
worker process (one per core by default) and feeds them from one queue: a worker that
comes free takes every image waiting (up to ``max_batch``), detects and aligns each, embeds
all their faces in one model call and sends the faces back. Under load, concurrent requests
share batches; when idle, an image goes to a worker at once, with no waiting for a batch.

Request threads block on their own results only (the event loop never does: synchronous
routes run in the thread pool, and ``POST /recognize`` awaits its future). The queue is
bounded by its callers: a synchronous route queues the images of one request per thread of
the server's thread pool (one image, or the crops of one edge batch); the async recognise
path holds at most ``recognize_queue_size`` images and refuses more with 503
(``services/recognition.Recognizer``).

A worker that dies costs only the image that killed it: the worker is restarted, and when it
held a batch, each image of that batch is analysed again alone, so that only the culprit
fails (``FaceRejected``, 422: the image could not be analysed). An image whose client gave
up (its future cancelled, as when the awaiting request is cancelled) is dropped from the
queue, never analysed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, ForkServerProcess
from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from facewatch.config import Settings
from facewatch.errors import FaceRejected, FacewatchError, ModelUnavailable
from facewatch.types import Box, Face, RGBImage
from facewatch.vision.embedders import create_embedder
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

logger = logging.getLogger(__name__)

READY = "ready"
_PRELOAD = ["facewatch.server.infra.workers"]
"""Imported once by the fork server, so that each worker forks with numpy, dlib, OpenCV and
onnxruntime already imported instead of importing them again."""
_DISCONNECT_POLL_SECONDS = 0.2
"""How often a waiting request checks that its client is still there."""
_START_TIMEOUT = 300.0
"""Seconds a worker may take to load its models (a first start also converts the embedder)."""
_STOP_TIMEOUT = 10.0


class Analyzer(Protocol):
    """What the services need of a face analyser, in this process or in a pool of workers."""

    @property
    def model_id(self) -> str: ...

    @property
    def embedding_dim(self) -> int: ...

    def analyze(
        self, image: RGBImage, *, embed: bool = True, face_box: Box | None = None
    ) -> list[Face]: ...

    def warm_up(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Job:
    image: RGBImage
    embed: bool
    face_box: Box | None
    result: Future[list[Face]]


@dataclass
class PoolStats:
    """What the pool has done: images analysed and the batches they went in, images dropped
    because their client gave up, and worker processes that died."""

    images: int = 0
    batches: int = 0
    largest_batch: int = 0
    dropped: int = 0
    worker_deaths: int = 0

    def count(self, size: int) -> None:
        self.images += size
        self.batches += 1
        self.largest_batch = max(self.largest_batch, size)


class WorkerDied(RuntimeError):
    """An analysis worker process ended while it held a batch."""


def not_analysable() -> FaceRejected:
    """The error of an image whose analysis killed a worker (alone in its batch)."""
    # "invalid_image" is a code clients (and the enrolment's rejected files) already know.
    return FaceRejected(
        "the image could not be analysed: its analysis stopped the analysis worker",
        code="invalid_image",
    )


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity; a container's cpuset included)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --- the worker process ---------------------------------------------------------------------


def worker_settings(settings: Settings) -> Settings:
    """A worker's settings: one embedder thread unless set, as the workers fill the cores."""
    if settings.embedder_threads:
        return settings
    return settings.model_copy(update={"embedder_threads": 1})


Task = tuple[RGBImage, bool, Box | None]
"""What a worker is sent per image: the pixels, whether to embed, the client's face box."""
Serve = Callable[[Connection, Settings], None]
"""A worker process's main function (``serve_analysis``; tests give a fake)."""


def analyze_batch(
    analyzer: FaceAnalyzer, batch: Sequence[Task]
) -> list[list[Face] | FacewatchError]:
    """Every image's faces, the embeddings of all images computed in one model call.

    An image that fails (say, not RGB) gets its error in its place; the others go on.
    """
    found: list[list[Face] | FacewatchError] = []
    for image, _, face_box in batch:
        try:
            found.append(analyzer.analyze(image, embed=False, face_box=face_box))
        except FacewatchError as exc:
            found.append(exc)
    wanted = [
        face
        for (_, embed, _), faces in zip(batch, found, strict=True)
        if embed and not isinstance(faces, FacewatchError)
        for face in faces
    ]
    if wanted:
        vectors = analyzer.embedder.embed([face.chip for face in wanted])
        for face, vector in zip(wanted, vectors, strict=True):
            face.embedding = vector
    return found


def serve_analysis(connection: Connection, settings: Settings) -> None:
    """A worker process: load the models, say ready, then analyse batches until told to stop."""
    try:
        analyzer = create_analyzer(worker_settings(settings))
        analyzer.warm_up()
    except FacewatchError as exc:
        connection.send(exc)
        return
    connection.send(READY)
    while True:
        try:
            batch = connection.recv()
        except EOFError:
            return
        if batch is None:
            return
        connection.send(analyze_batch(analyzer, batch))


def analyze_all(
    analyzer: Analyzer,
    images: Sequence[RGBImage],
    face_boxes: Sequence[Box | None] | None = None,
) -> list[list[Face] | FacewatchError]:
    """Every image's faces, or the error it gave, in order (``face_boxes``: per image, the
    client's face box or None; see ``FaceAnalyzer``).

    With an ``AnalysisPool`` the images are queued together, so that every worker takes a
    share and their faces are embedded in shared batches; another analyser takes them one
    after the other.
    """
    boxes = list(face_boxes) if face_boxes is not None else [None] * len(images)
    pairs = list(zip(images, boxes, strict=True))
    if not isinstance(analyzer, AnalysisPool):
        return [_analyze_one(analyzer, image, box) for image, box in pairs]
    futures = [analyzer.submit(image, face_box=box) for image, box in pairs]
    found: list[list[Face] | FacewatchError] = []
    for future in futures:
        try:
            found.append(future.result())
        except FacewatchError as exc:
            found.append(exc)
    return found


async def analyze_async(
    analyzer: Analyzer, image: RGBImage, face_box: Box | None = None
) -> list[Face]:
    """``analyze`` awaited: no thread waits on a worker (the pool's future is awaited).

    Cancelling the awaiting task cancels the queued image: no worker analyses it.
    """
    if not isinstance(analyzer, AnalysisPool):
        return await run_in_threadpool(partial(analyzer.analyze, image, face_box=face_box))
    future = analyzer.submit(image, face_box=face_box)
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        future.cancel()  # a no-op once a worker has taken it
        raise


class Client(Protocol):
    """The client of a request (a Starlette ``Request``): is it still there?"""

    async def is_disconnected(self) -> bool: ...


async def analyze_while_connected(
    request: Client,
    analyzer: Analyzer,
    image: RGBImage,
    face_box: Box | None = None,
    *,
    poll_seconds: float = _DISCONNECT_POLL_SECONDS,
) -> list[Face]:
    """``analyze_async``, given up (the queued image dropped) if the client goes away.

    Raises ``ClientDisconnect`` then: there is nobody left to answer.
    """
    task = asyncio.ensure_future(analyze_async(analyzer, image, face_box))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll_seconds)
            if done:
                return task.result()
            if await request.is_disconnected():
                logger.info("client gone: its image is not analysed")
                raise ClientDisconnect
    finally:
        if not task.done():
            task.cancel()


def _analyze_one(
    analyzer: Analyzer, image: RGBImage, face_box: Box | None
) -> list[Face] | FacewatchError:
    try:
        return analyzer.analyze(image, face_box=face_box)
    except FacewatchError as exc:
        return exc


# --- the parent side --------------------------------------------------------------------------


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(
        self, context: ForkServerContext, settings: Settings, number: int, serve: Serve
    ) -> None:
        self.number = number
        self._connection, child = context.Pipe()
        self._process: ForkServerProcess = context.Process(
            target=serve,
            args=(child, settings),
            name=f"facewatch-analysis-{number}",
            daemon=True,
        )
        self._process.start()
        child.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def wait_ready(self, timeout: float) -> None:
        """Block until the worker has loaded its models; raise what stopped it."""
        if not self._connection.poll(timeout):
            self.stop()
            raise ModelUnavailable(f"analysis worker {self.number} did not start in {timeout}s")
        try:
            message = self._connection.recv()
        except EOFError:
            raise ModelUnavailable(f"analysis worker {self.number} exited at start") from None
        if isinstance(message, FacewatchError):
            self.stop()
            raise message
        logger.debug("analysis worker %s (pid %s) ready", self.number, self._process.pid)

    def run(self, batch: list[Task]) -> list[list[Face] | FacewatchError]:
        """Send a batch and wait for its results."""
        try:
            self._connection.send(batch)
            results: list[list[Face] | FacewatchError] = self._connection.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied(f"analysis worker {self.number} died") from exc
        return results

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send(None)
        self._process.join(_STOP_TIMEOUT)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()


class AnalysisPool:
    """Worker processes that analyse images, fed from one micro-batching queue.

    ``analyze`` may be called from any number of threads. ``close`` stops the workers.
    ``serve`` is the workers' main function (tests swap in a fake).
    """

    def __init__(
        self, settings: Settings, *, workers: int | None = None, serve: Serve = serve_analysis
    ) -> None:
        count = workers if workers is not None else settings.analysis_workers
        self.size = count or usable_cores()
        self.max_batch = settings.analysis_batch_size
        self._settings = settings
        self._serve_function = serve
        # Not "fork": the server has threads by now; the fork server forks from a clean process.
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._workers: dict[int, _Worker] = {}
        self._stats = PoolStats()
        self._stats_lock = threading.Lock()
        self._closed = False
        embedder = create_embedder(settings)  # cheap: the model loads in the workers
        self._model_id, self._dim = embedder.model_id, embedder.dim

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def embedding_dim(self) -> int:
        return self._dim

    @property
    def stats(self) -> PoolStats:
        """A snapshot of the pool's counters."""
        with self._stats_lock:
            return PoolStats(**vars(self._stats))

    def worker_pids(self) -> list[int]:
        """Process ids of the running workers."""
        return [w.pid for w in self._workers.values() if w.pid is not None]

    def warm_up(self) -> None:
        """Start the workers (each loads its models) and wait until all are ready."""
        with self._start_lock:
            if not self._threads:
                self._start()

    def _start(self) -> None:
        workers = [self._spawn(number) for number in range(self.size)]
        try:
            for worker in workers:
                worker.wait_ready(_START_TIMEOUT)
        except BaseException:
            for worker in workers:
                worker.stop()
            raise
        for worker in workers:
            self._workers[worker.number] = worker
            thread = threading.Thread(
                target=self._feed, args=(worker,), name=f"analysis-feed-{worker.number}"
            )
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        logger.info("%s analysis workers ready (batches of up to %s)", self.size, self.max_batch)

    def submit(
        self, image: RGBImage, *, embed: bool = True, face_box: Box | None = None
    ) -> Future[list[Face]]:
        """Queue an image; the future holds its faces, as ``FaceAnalyzer.analyze`` gives them."""
        if self._closed:
            raise RuntimeError("the analysis pool is closed")
        self.warm_up()
        if not any(thread.is_alive() for thread in self._threads):
            raise ModelUnavailable("no analysis worker is running (see the server log)")
        result: Future[list[Face]] = Future()
        self._queue.put(_Job(image, embed, face_box, result))
        return result

    def analyze(
        self, image: RGBImage, *, embed: bool = True, face_box: Box | None = None
    ) -> list[Face]:
        """Every face in ``image``, analysed by a worker; blocks the calling thread only."""
        return self.submit(image, embed=embed, face_box=face_box).result()

    def close(self) -> None:
        """Stop the workers once the queued images are done."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _spawn(self, number: int) -> _Worker:
        return _Worker(self._context, self._settings, number, self._serve_function)

    def _feed(self, worker: _Worker) -> None:
        """One worker's loop: take what is waiting, have it analysed, hand out the results."""
        current: _Worker | None = worker
        while current is not None:
            jobs = self._next_batch()
            if jobs is None:
                current.stop()
                return
            with self._stats_lock:
                self._stats.count(len(jobs))
            current = self._serve(current, jobs)

    def _serve(self, worker: _Worker, jobs: list[_Job]) -> _Worker | None:
        """Run one batch; the worker to go on with (a new one if it died, None if none).

        A worker found dead before the batch (killed while idle) is replaced first, blaming
        no image. One that dies on a batch of several has each image analysed again alone.
        """
        current: _Worker | None = worker
        if not worker.alive:
            logger.error("analysis worker %s died while idle; restarting it", worker.number)
            current = self._restart(worker)
        if current is None:
            _fail(jobs, ModelUnavailable("no analysis worker could be restarted"))
            return None
        try:
            self._run(current, jobs)
        except WorkerDied:
            logger.error(
                "analysis worker %s died on a batch of %s; restarting it", current.number, len(jobs)
            )
            current = self._restart(current)
            if len(jobs) == 1:
                _fail(jobs, not_analysable())
                return current
            return self._retry_alone(current, jobs)
        return current

    def _retry_alone(self, worker: _Worker | None, jobs: list[_Job]) -> _Worker | None:
        """Each job of a batch whose worker died, analysed alone: only a culprit fails."""
        for job in jobs:
            if worker is None:
                _fail([job], ModelUnavailable("no analysis worker could be restarted"))
                continue
            try:
                self._run(worker, [job])
            except WorkerDied:
                logger.error("an image stopped analysis worker %s; refusing it", worker.number)
                _fail([job], not_analysable())
                worker = self._restart(worker)
        return worker

    def _run(self, worker: _Worker, jobs: list[_Job]) -> None:
        """Have ``worker`` analyse ``jobs`` and settle their futures; ``WorkerDied`` if it died."""
        try:
            results = worker.run([(job.image, job.embed, job.face_box) for job in jobs])
            for job, outcome in zip(jobs, results, strict=True):
                if isinstance(outcome, FacewatchError):
                    job.result.set_exception(outcome)
                else:
                    job.result.set_result(outcome)
        except WorkerDied:
            raise
        except Exception as exc:  # the feed thread must go on serving the queue
            logger.exception("analysis batch failed in worker %s", worker.number)
            _fail(jobs, exc)

    def _next_batch(self) -> list[_Job] | None:
        """Block for one job, then take whatever else is waiting, up to ``max_batch``.

        Jobs whose future was cancelled (their client gave up) are dropped, not analysed;
        the jobs taken are marked running, so that they can no longer be cancelled.
        """
        jobs: list[_Job] = []
        while not jobs:
            first = self._queue.get()
            if first is None:
                return None
            jobs = self._take([first])
        while len(jobs) < self.max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # for this loop's next turn
                break
            jobs += self._take([job])
        return jobs

    def _take(self, jobs: list[_Job]) -> list[_Job]:
        """The jobs still wanted, now running; cancelled ones are counted and dropped."""
        wanted = [job for job in jobs if job.result.set_running_or_notify_cancel()]
        if len(wanted) < len(jobs):
            with self._stats_lock:
                self._stats.dropped += len(jobs) - len(wanted)
        return wanted

    def _restart(self, dead: _Worker) -> _Worker | None:
        with self._stats_lock:
            self._stats.worker_deaths += 1
        dead.stop()
        self._workers.pop(dead.number, None)
        try:
            worker = self._spawn(dead.number)
            worker.wait_ready(_START_TIMEOUT)
        except FacewatchError:
            logger.exception("analysis worker %s cannot restart", dead.number)
            return None
        self._workers[worker.number] = worker
        return worker


def _fail(jobs: list[_Job], error: BaseException) -> None:
    for job in jobs:
        if not job.result.done():
            job.result.set_exception(error)
