"""Mode local: alerts raised on site from the local verdicts, with no uplink needed.

Every alert is a log line; a local webhook and an MQTT topic are optional. Webhook calls
and MQTT publishes run on one thread behind a bounded queue, so a slow siren never slows the
camera loop (alerts that do not fit are dropped and counted). Each track alerts once per
identity: a person walking past is one alert, not one per shot.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from facewatch.edge.config import AlertConfig
from facewatch.types import MatchStatus

logger = logging.getLogger(__name__)

_QUEUE_SIZE = 256


@dataclass(frozen=True, slots=True)
class LocalAlert:
    """One alert: a recognised person or an unknown face, on one camera's track."""

    kind: str
    """``person.recognized`` or ``face.unknown``."""
    camera_id: str
    edge_id: str
    track_id: str
    captured_at: str
    person_id: int | None
    name: str | None
    category: str | None
    distance: float | None
    confidence: float
    gallery_version: str

    def as_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    def describe(self) -> str:
        if self.kind == "person.recognized":
            return f"{self.name} ({self.category}) recognised"
        return "unknown face"


class AlertSink(ABC):
    """Somewhere alerts go (besides the log)."""

    @abstractmethod
    def send(self, alert: LocalAlert) -> None:
        """Deliver one alert (called on the alert thread; may block up to a timeout)."""

    def close(self) -> None:  # noqa: B027 - most sinks hold nothing
        """Release connections."""


class WebhookSink(AlertSink):
    """POSTs each alert as JSON to a local URL."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout)

    def send(self, alert: LocalAlert) -> None:
        response = self._client.post(
            self.url, content=alert.as_json(), headers={"Content-Type": "application/json"}
        )
        response.raise_for_status()

    def close(self) -> None:
        self._client.close()


class MqttSink(AlertSink):
    """Publishes each alert as JSON to ``<topic>/<camera>`` (QoS 1; paho reconnects)."""

    def __init__(self, host: str, port: int, topic: str, timeout: float) -> None:
        from paho.mqtt.client import Client
        from paho.mqtt.enums import CallbackAPIVersion

        self.topic = topic.rstrip("/")
        self._where = f"{host}:{port}"
        self._connected = threading.Event()
        self._client: Any = Client(CallbackAPIVersion.VERSION2)
        self._client.on_connect = lambda *_: self._connected.set()
        self._client.on_disconnect = lambda *_: self._connected.clear()
        self._client.connect_async(host, port)
        self._client.loop_start()
        self._timeout = timeout

    def send(self, alert: LocalAlert) -> None:
        # paho refuses to wait for a message published before the connection is up.
        if not self._connected.wait(self._timeout):
            raise ConnectionError(f"no connection to the MQTT broker at {self._where}")
        info = self._client.publish(f"{self.topic}/{alert.camera_id}", alert.as_json(), qos=1)
        info.wait_for_publish(self._timeout)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def create_sinks(config: AlertConfig) -> list[AlertSink]:
    """The sinks ``config`` names (none: alerts are log lines only)."""
    sinks: list[AlertSink] = []
    if config.webhook_url:
        sinks.append(WebhookSink(config.webhook_url, config.timeout))
    if config.mqtt_host:
        sinks.append(
            MqttSink(config.mqtt_host, config.mqtt_port, config.mqtt_topic, config.timeout)
        )
    return sinks


class LocalAlerts:
    """Decides which verdicts become alerts, logs them, and hands them to the sinks."""

    def __init__(self, config: AlertConfig, sinks: list[AlertSink] | None = None) -> None:
        self.config = config
        self._sinks = sinks if sinks is not None else create_sinks(config)
        self._raised: set[tuple[str, str, int | None]] = set()
        self._lock = threading.Lock()
        self.raised = 0
        self.dropped = 0
        self.failed = 0
        self._queue: queue.Queue[LocalAlert | None] = queue.Queue(_QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        if self._sinks:
            self._thread = threading.Thread(target=self._run, name="edge-alerts", daemon=True)
            self._thread.start()

    def consider(self, alert: LocalAlert, status: MatchStatus) -> bool:
        """Raise ``alert`` unless its track already alerted for this identity; True if raised."""
        if status is MatchStatus.UNCERTAIN:
            return False  # not named, not clearly a stranger: nothing to act on
        wanted = (
            self.config.known_faces if status is MatchStatus.KNOWN else self.config.unknown_faces
        )
        key = (alert.camera_id, alert.track_id, alert.person_id)
        with self._lock:
            if not wanted or key in self._raised:
                return False
            self._raised.add(key)
            self.raised += 1
        logger.warning(
            "ALERT camera %s: %s (track %s)", alert.camera_id, alert.describe(), alert.track_id
        )
        if self._thread is not None:
            try:
                self._queue.put_nowait(alert)
            except queue.Full:
                self.dropped += 1
                logger.warning("alert queue full: alert of track %s not forwarded", alert.track_id)
        return True

    def forget_track(self, camera_id: str, track_id: str) -> None:
        """A track ended: its alert keys are no longer needed."""
        with self._lock:
            self._raised = {k for k in self._raised if k[:2] != (camera_id, track_id)}

    def close(self) -> None:
        """Forward what is queued, then stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
        for sink in self._sinks:
            sink.close()

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            for sink in self._sinks:
                try:
                    sink.send(alert)
                except Exception as exc:  # the thread boundary: one bad sink, the rest go on
                    self.failed += 1
                    logger.warning("alert to %s failed: %s", type(sink).__name__, exc)
