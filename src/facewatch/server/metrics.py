"""Prometheus metrics at ``GET /metrics``: requests, latencies, faces, gallery, queues, events.

Each app gets its own registry (several apps in one process, as in the tests, never clash).
Request metrics come from an ASGI middleware labelled by route template (``/api/v1/people/
{person_id}``), never by raw path, so scans of random URLs cannot blow up the series count.
Faces are counted from the answers of the recognition routes, so no service needs to know
about metrics; values that already live elsewhere (gallery size, queue depths, replica
state) are read when Prometheus scrapes, never copied.

Names follow Prometheus conventions: ``_total`` counters, ``_seconds`` histograms; faces per
second is ``rate(facewatch_faces_total[1m])``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facewatch.config import Settings
from facewatch.errors import Unauthorized
from facewatch.wire import EDGE_ID_HEADER, OUTBOX_DEPTH_HEADER

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Routes whose JSON answer lists the faces recognised, and the list's field.
_FACE_ROUTES = {
    ("POST", "/api/v1/recognize"): "faces",
    ("POST", "/api/v1/detections"): "detections",
    ("POST", "/api/v1/edge/embeddings"): "detections",
}
_CAMERA_GAUGES = {
    "fps_in": "Frames a camera's edge agent read per second (its last heartbeat).",
    "fps_processed": "Frames a camera's edge agent searched for faces per second.",
    "frames_dropped": "Frames a camera's edge agent dropped since it started.",
    "detections_per_minute": "Face candidates a camera's edge agent found per minute.",
    "outbox_depth": "Items waiting in the outbox of a camera's edge agent.",
    "outbox_oldest_seconds": "Age of the oldest item in that outbox (0: empty).",
    "heartbeat_age_seconds": "Seconds since a camera's edge agent last reported.",
    "stale": "1 when a camera's edge agent has been quiet too long (camera.stale).",
}
_MAX_COUNTED_BODY = 4 * 1024 * 1024
_MAX_EDGES = 1000


class QueueStats(Protocol):
    """What a bounded queue reports (``events.worker.WorkerStats`` has these fields)."""

    @property
    def name(self) -> str: ...
    @property
    def accepted(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def queued(self) -> int: ...


QueueSource = Callable[[], Iterable[QueueStats]]


class CameraHealthStats(Protocol):
    """What a camera's edge agent last reported (``schemas.CameraHealthOut`` has these)."""

    @property
    def edge_id(self) -> str: ...
    @property
    def agent_version(self) -> str: ...
    @property
    def detector(self) -> str: ...
    @property
    def embedder(self) -> str | None: ...
    @property
    def fps_in(self) -> float: ...
    @property
    def fps_processed(self) -> float: ...
    @property
    def frames_dropped(self) -> int: ...
    @property
    def detections_per_minute(self) -> float: ...
    @property
    def outbox_depth(self) -> int: ...
    @property
    def outbox_oldest_seconds(self) -> float | None: ...
    @property
    def reported_at(self) -> datetime: ...
    @property
    def stale(self) -> bool: ...


CameraSource = Callable[[], Mapping[str, CameraHealthStats]]
"""The health of each reporting camera, by camera id (read from the database)."""


class _BusStats(Protocol):
    @property
    def dispatcher(self) -> QueueStats | None: ...
    @property
    def sinks(self) -> tuple[QueueStats, ...]: ...


class _StatsProvider(Protocol):
    def stats(self) -> _BusStats: ...


def event_bus_queues(bus: _StatsProvider) -> QueueSource:
    """The queues of the event path (dispatcher, then each sink) as a metrics source."""

    def queues() -> list[QueueStats]:
        stats = bus.stats()
        return [q for q in (stats.dispatcher, *stats.sinks) if q is not None]

    return queues


class Metrics:
    """The metrics of one app; ``install_metrics`` wires them into it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "facewatch_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "facewatch_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "facewatch_http_requests_in_flight",
            "HTTP requests being answered now (what a graceful shutdown drains).",
            registry=self.registry,
        )
        self.faces = Counter(
            "facewatch_faces",
            "Faces recognised (matched against the gallery), by route.",
            ["route"],
            registry=self.registry,
        )
        self.events = Counter(
            "facewatch_events",
            "Events raised, by kind (call Metrics.count_event).",
            ["kind"],
            registry=self.registry,
        )
        self._edges: dict[str, float] = {}
        self._edges_lock = threading.Lock()
        self._queue_sources: list[QueueSource] = []
        self._camera_source: CameraSource | None = None
        self.state = _StateCollector(self)
        self.registry.register(self.state)

    def count_event(self, kind: str) -> None:
        """Count one raised event of ``kind`` (a small fixed set: known, unknown, ...)."""
        self.events.labels(kind=kind).inc()

    def watch_queues(self, source: QueueSource) -> None:
        """Export the depth, accepted and dropped counts of the queues ``source()`` lists."""
        self._queue_sources.append(source)

    def watch_cameras(self, source: CameraSource) -> None:
        """Export each camera's edge health (the latest heartbeat) from ``source()``."""
        self._camera_source = source

    def camera_health(self) -> Mapping[str, CameraHealthStats]:
        if self._camera_source is None:
            return {}
        try:
            return self._camera_source()
        except Exception:
            logger.exception("the camera health metrics source failed")
            return {}

    def queue_stats(self) -> list[QueueStats]:
        found: list[QueueStats] = []
        for source in list(self._queue_sources):
            try:
                found.extend(source())
            except Exception:
                logger.exception("a queue metrics source failed")
        return found

    def edge_outbox(self, edge_id: str, depth: float) -> None:
        """Remember the outbox depth an edge agent reported with its last request."""
        with self._edges_lock:
            if edge_id in self._edges or len(self._edges) < _MAX_EDGES:
                self._edges[edge_id] = depth

    def edge_outboxes(self) -> dict[str, float]:
        with self._edges_lock:
            return dict(self._edges)

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Values read at scrape time from the app: gallery, queues, edges, replica state."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.app: FastAPI | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # dynamic: nothing to check against other collectors' names

    def collect(self) -> Iterable[Metric]:
        yield from self._gallery()
        yield from self._queues()
        yield from self._edges()
        yield from self._cameras()
        yield from self._replica()

    def _runtime(self) -> Any:
        return getattr(self.app.state, "runtime", None) if self.app else None

    def _gallery(self) -> Iterator[Metric]:
        runtime = self._runtime()
        gallery = runtime.loaded_gallery if runtime is not None else None
        ready = GaugeMetricFamily("facewatch_ready", "1 once models and gallery are loaded.")
        ready.add_metric([], 1.0 if gallery is not None else 0.0)
        yield ready
        if gallery is None:
            return
        templates = GaugeMetricFamily("facewatch_gallery_templates", "Templates in memory.")
        templates.add_metric([], float(len(gallery)))
        people = GaugeMetricFamily("facewatch_gallery_people", "People in the gallery.")
        people.add_metric([], float(gallery.people_count))
        yield templates
        yield people

    def _queues(self) -> Iterator[Metric]:
        stats = self._metrics.queue_stats()
        depth = GaugeMetricFamily("facewatch_queue_depth", "Items waiting.", labels=["queue"])
        accepted = CounterMetricFamily(
            "facewatch_queue_accepted", "Items a queue took in.", labels=["queue"]
        )
        dropped = CounterMetricFamily(
            "facewatch_queue_dropped", "Items a full queue refused.", labels=["queue"]
        )
        for item in stats:
            depth.add_metric([item.name], float(item.queued))
            accepted.add_metric([item.name], float(item.accepted))
            dropped.add_metric([item.name], float(item.dropped))
        yield from (depth, accepted, dropped)

    def _edges(self) -> Iterator[Metric]:
        outbox = GaugeMetricFamily(
            "facewatch_edge_outbox_depth",
            f"Items in an edge agent's outbox, as it reported in {OUTBOX_DEPTH_HEADER}.",
            labels=["edge"],
        )
        for edge_id, depth in sorted(self._metrics.edge_outboxes().items()):
            outbox.add_metric([edge_id], depth)
        yield outbox

    def _cameras(self) -> Iterator[Metric]:
        """Per camera, what its edge agent said in its last heartbeat."""
        health = self._metrics.camera_health()
        gauges = {
            name: GaugeMetricFamily(f"facewatch_camera_{name}", text, labels=["camera"])
            for name, text in _CAMERA_GAUGES.items()
        }
        info = GaugeMetricFamily(
            "facewatch_camera_agent_info",
            "1 per camera, labelled with its edge agent, version and models.",
            labels=["camera", "edge", "version", "detector", "embedder"],
        )
        now = time.time()
        for camera_id, stats in sorted(health.items()):
            oldest = stats.outbox_oldest_seconds
            values = {
                "fps_in": stats.fps_in,
                "fps_processed": stats.fps_processed,
                "frames_dropped": float(stats.frames_dropped),
                "detections_per_minute": stats.detections_per_minute,
                "outbox_depth": float(stats.outbox_depth),
                "outbox_oldest_seconds": oldest if oldest is not None else 0.0,
                "heartbeat_age_seconds": max(now - stats.reported_at.timestamp(), 0.0),
                "stale": 1.0 if stats.stale else 0.0,
            }
            for name, value in values.items():
                gauges[name].add_metric([camera_id], value)
            labels = [stats.edge_id, stats.agent_version, stats.detector, stats.embedder or ""]
            info.add_metric([camera_id, *labels], 1.0)
        yield from gauges.values()
        yield info

    def _replica(self) -> Iterator[Metric]:
        coordinator = getattr(self.app.state, "replicas", None) if self.app else None
        if coordinator is None:
            return
        leader = GaugeMetricFamily(
            "facewatch_scheduler_leader", "1 on the one replica that runs scheduled jobs."
        )
        leader.add_metric([], 1.0 if coordinator.scheduler.is_leader else 0.0)
        syncs = CounterMetricFamily(
            "facewatch_gallery_syncs", "Times the gallery was reconciled with the database."
        )
        syncs.add_metric([], float(coordinator.gallery_sync.syncs))
        yield leader
        yield syncs


@dataclass(slots=True)
class _Exchange:
    """What the middleware learns about one request while it is answered."""

    status: int = 500
    counting: bool = False
    body: bytearray | None = None


class MetricsMiddleware:
    """Counts and times every HTTP request; counts the faces of the recognition routes."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._note_edge(scope)
        exchange = _Exchange()
        method = scope["method"]

        async def send_wrapper(message: Message) -> None:
            self._observe(message, exchange, scope)
            await send(message)

        self.metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            route = _route_of(scope)
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(method, route, str(exchange.status)).inc()
            if exchange.body is not None:
                self._count_faces(method, route, bytes(exchange.body))

    def _observe(self, message: Message, exchange: _Exchange, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            exchange.status = int(message["status"])
            key = (scope["method"], _route_of(scope))
            exchange.counting = 200 <= exchange.status < 300 and key in _FACE_ROUTES
            exchange.body = bytearray() if exchange.counting else None
        elif message["type"] == "http.response.body" and exchange.body is not None:
            exchange.body += message.get("body", b"")
            if len(exchange.body) > _MAX_COUNTED_BODY:
                exchange.body = None  # not an answer we know; do not hold it

    def _count_faces(self, method: str, route: str, body: bytes) -> None:
        try:
            answer = json.loads(body)
        except ValueError:
            return
        if not isinstance(answer, dict) or answer.get("replayed"):
            return  # a replayed ingest recognised nothing new
        found = answer.get(_FACE_ROUTES[(method, route)])
        if isinstance(found, list) and found:
            self.metrics.faces.labels(route).inc(len(found))

    def _note_edge(self, scope: Scope) -> None:
        headers = dict(scope.get("headers") or ())
        edge = headers.get(EDGE_ID_HEADER.lower().encode())
        depth = headers.get(OUTBOX_DEPTH_HEADER.lower().encode())
        if not edge or depth is None:
            return
        try:
            value = float(depth)
        except ValueError:
            return
        if value >= 0:
            self.metrics.edge_outbox(edge.decode("latin-1")[:128], value)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def install_metrics(app: FastAPI, settings: Settings) -> Metrics:
    """Add the middleware and ``GET /metrics`` to ``app``; the metrics as ``app.state``."""
    metrics = Metrics()
    metrics.state.app = app
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @app.get("/metrics", include_in_schema=False)
    def get_metrics(request: Request) -> Response:
        """Every metric in Prometheus' text format."""
        if token is not None:
            _check_token(request, token)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _check_token(request: Request, token: str) -> None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("GET /metrics needs 'Authorization: Bearer <metrics token>'")
