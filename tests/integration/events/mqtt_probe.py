"""A real MQTT client that records what the broker delivers (for the MQTT tests)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

HOST, PORT = "127.0.0.1", 1883


def broker_answers() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


def require_broker() -> None:
    """Skip (fail under CI) when no MQTT broker answers on 127.0.0.1:1883."""
    if broker_answers():
        return
    message = f"no MQTT broker on {HOST}:{PORT} (.ci/run starts Mosquitto)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: bytes
    retain: bool

    @property
    def json(self) -> Any:
        return json.loads(self.payload)


class MqttProbe:
    """Subscribes to ``topics`` and keeps every message; use it in ``with``."""

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = list(topics)
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4()}")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def __enter__(self) -> MqttProbe:
        self.client.connect(HOST, PORT, keepalive=30)
        self.client.loop_start()
        assert self._subscribed.wait(10), "the probe could not subscribe"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def wait_for(
        self, match: Callable[[Seen], bool], count: int = 1, timeout: float = 10.0
    ) -> list[Seen]:
        """The messages matching ``match``, once ``count`` have come (or at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.seen() if match(m)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def on_topic(self, topic: str, timeout: float = 10.0) -> Seen | None:
        """The first message on exactly ``topic``."""
        found = self.wait_for(lambda m: m.topic == topic, timeout=timeout)
        return found[0] if found else None

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._seen.append(Seen(message.topic, message.payload, bool(message.retain)))


def clear_retained(prefixes: Iterable[str], settle: float = 1.0) -> int:
    """Remove every retained message under ``prefixes`` from the broker; how many there were."""
    with MqttProbe(f"{prefix}/#" for prefix in prefixes) as probe:
        time.sleep(settle)  # retained messages arrive right after subscribing
        retained = {m.topic for m in probe.seen() if m.retain and m.payload}
        for topic in retained:
            probe.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    return len(retained)
