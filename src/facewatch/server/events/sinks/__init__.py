"""Event sinks, side by side behind one interface (``EventSink``), made by one factory."""

from __future__ import annotations

from collections.abc import Callable

from facewatch.config import Settings
from facewatch.server.events.sinks.base import EventSink, QueuedSink
from facewatch.server.events.sinks.mqtt import MqttSink
from facewatch.server.events.sinks.sse import Broadcaster, StreamFilter, Subscription
from facewatch.server.events.sinks.store import StoreSink
from facewatch.server.events.sinks.webhook import WebhookSink
from facewatch.store.unit_of_work import UnitOfWork

__all__ = [
    "Broadcaster",
    "EventSink",
    "MqttSink",
    "QueuedSink",
    "StoreSink",
    "StreamFilter",
    "Subscription",
    "WebhookSink",
    "create_sinks",
]


def create_sinks(
    settings: Settings, uow_factory: Callable[[], UnitOfWork], broadcaster: Broadcaster
) -> list[EventSink]:
    """The sinks these settings ask for, the store first (it must hold an event before any
    client that sees it can acknowledge it)."""
    sinks: list[EventSink] = [
        StoreSink(uow_factory),
        broadcaster,
        WebhookSink(uow_factory, settings),
    ]
    if settings.mqtt_url:
        sinks.append(MqttSink(settings))
    return sinks
