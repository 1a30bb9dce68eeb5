"""The application factory: ``create_app(settings)`` builds the REST server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from facewatch import __version__, dashboard
from facewatch.config import Settings
from facewatch.server import compat
from facewatch.server.errors import install_error_handlers
from facewatch.server.events import create_event_bus
from facewatch.server.infra.replicas import ReplicaCoordinator
from facewatch.server.infra.runtime import Runtime
from facewatch.server.metrics import event_bus_queues, install_metrics
from facewatch.server.middleware.audit import AuditContextMiddleware
from facewatch.server.middleware.body_size import BodySizeLimit
from facewatch.server.middleware.hsts import StrictTransportSecurity
from facewatch.server.middleware.ratelimit import RateLimitMiddleware, limiter_for
from facewatch.server.middleware.timeouts import BodyTimeout
from facewatch.server.routers import audit as audit_router
from facewatch.server.routers import (
    cameras,
    detections,
    edge_gallery,
    edge_health,
    edge_ingest,
    event_details,
    events,
    faces,
    health,
    people,
    presence,
    recognize,
    reports,
    search,
    unknowns,
    webhooks,
    zones,
)
from facewatch.server.services import audit, camera_health, retention
from facewatch.server.services.event_relay import start_event_relay, stop_event_relay
from facewatch.server.services.unknowns import recluster

logger = logging.getLogger(__name__)

DESCRIPTION = """
Open-set face recognition: enrol people from photos, recognise every face of an image
(strangers come out **unknown**, never as the nearest enrolled person), and remember
every detection from your cameras.

Every route but `/healthz` and `/readyz` needs an API key (`Authorization: Bearer fw_...`),
made with `facewatch keys create --scope admin`. Click **Authorize** to paste one.
"""


def create_app(settings: Settings | None = None, *, warm_up: bool = True) -> FastAPI:
    """Build the server; storage opens and models load in the lifespan, not here."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await anyio.to_thread.run_sync(Runtime.open, settings)
        app.state.runtime = runtime
        runtime.access_log = audit.AccessRecorder(runtime)  # closed by runtime.close()
        await anyio.to_thread.run_sync(audit.record_settings, runtime)
        if warm_up:
            # Load models and gallery off the event loop; /readyz says 503 until done.
            await anyio.to_thread.run_sync(runtime.warm_up)
        # Gallery sync with the other replicas, and scheduled jobs on one of them.
        app.state.replicas = replicas = ReplicaCoordinator(runtime)
        if settings.unknown_recluster_interval > 0:
            interval = settings.unknown_recluster_interval
            replicas.scheduler.add("unknowns.recluster", interval, lambda: recluster(runtime))
        if settings.retention_interval_seconds > 0:
            interval = settings.retention_interval_seconds
            replicas.scheduler.add("retention.purge", interval, lambda: retention.purge(runtime))
        replicas.start()
        # Event sinks run on threads of their own; ingest only queues to them.
        runtime.events = create_event_bus(
            settings, runtime.uow, lambda: runtime.recognition.match_threshold
        )
        runtime.events.start()
        app.state.metrics.watch_queues(event_bus_queues(runtime.events))
        runtime.events.observe(lambda event: app.state.metrics.count_event(event.type.value))
        app.state.metrics.watch_cameras(lambda: camera_health.all_health(runtime))
        if settings.edge_health_check_seconds > 0:  # after the bus: its events must go out
            replicas.scheduler.add(
                "cameras.stale",
                settings.edge_health_check_seconds,
                lambda: camera_health.check_stale(runtime),
            )
        relay = start_event_relay(runtime.changes, runtime.events)  # to other replicas' SSE
        try:
            yield
        finally:
            await stop_event_relay(relay)
            await anyio.to_thread.run_sync(runtime.events.stop)
            await anyio.to_thread.run_sync(replicas.stop)
            runtime.close()

    app = FastAPI(
        title="Facewatch",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(BodyTimeout, seconds=settings.request_body_timeout_seconds)
    app.add_middleware(
        AuditContextMiddleware,
        watch=audit.is_sensitive,
        record=lambda access: app.state.runtime.access_log(access),
    )
    app.add_middleware(RateLimitMiddleware, limiter=limiter_for(settings))  # before bodies
    install_metrics(app, settings)  # outermost: it sees every answer, 413s included
    if settings.tls_cert is not None:  # https served here: browsers must keep to it
        app.add_middleware(StrictTransportSecurity)
    for module in (health, people, faces, recognize, detections, edge_ingest, cameras):
        app.include_router(module.router)
    app.include_router(edge_gallery.router)  # the gallery copy of agents in mode local
    app.include_router(edge_health.router)  # the agents' heartbeats and snapshots
    for module in (zones, events, event_details, presence, webhooks):
        app.include_router(module.router)
    for module in (unknowns, search, reports):
        app.include_router(module.router)
    app.include_router(audit_router.router)
    dashboard.install(app)
    if settings.compat_cloud_api:
        compat.install(app, settings)
    return app
