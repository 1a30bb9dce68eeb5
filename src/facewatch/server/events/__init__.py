"""Events: rules that turn stored detections into events, and the sinks that carry them.

    ingest (after commit) ──publish──▶ EventBus ──▶ dispatcher thread
        rules (rules.py) + cooldown (cooldown.py) + strangers (strangers.py) = raiser.py
        ──▶ sinks/ in order: store (events table), live (SSE subscribers),
                             webhooks (signed POSTs, retries), mqtt (topics, HA discovery)

The contract every channel carries is ``types.Event``; docs/events.md describes it.
"""

from facewatch.server.events.bus import BusStats, EventBus, create_event_bus
from facewatch.server.events.sinks.sse import StreamFilter, Subscription
from facewatch.server.events.types import DetectionFacts, Event, EventType, Severity

__all__ = [
    "BusStats",
    "DetectionFacts",
    "Event",
    "EventBus",
    "EventType",
    "Severity",
    "StreamFilter",
    "Subscription",
    "create_event_bus",
]
