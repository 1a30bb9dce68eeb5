"""The MQTT sink: events to a broker (paho-mqtt), with Home Assistant discovery.

paho runs its own network thread and reconnects by itself; messages published while the
broker is away wait in paho's queue (QoS 1), which is bounded: past it they are dropped and
counted. Discovery messages are sent for a camera or person the first time an event names
them, and again whenever the broker connection comes back or Home Assistant restarts.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from facewatch.config import Settings
from facewatch.errors import ConfigurationError
from facewatch.server.events.mqtt_messages import Discovery, Message, Topics, event_messages
from facewatch.server.events.sinks.base import QueuedSink
from facewatch.server.events.types import Event

logger = logging.getLogger(__name__)

QOS = 1
_KEEPALIVE_SECONDS = 30


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and how to log in, from ``mqtt[s]://[user[:password]@]host[:port]``."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigurationError("mqtt_url must look like mqtt://[user:password@]host[:port]")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise ConfigurationError(f"mqtt_url has a bad port: {exc}") from None
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(parts.hostname, port, tls, username, password)


class MqttSink(QueuedSink):
    """Publishes events and Home Assistant discovery to one broker."""

    name = "mqtt"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.event_queue_size)
        assert settings.mqtt_url is not None, "MqttSink needs mqtt_url"
        self._broker = BrokerAddress.parse(settings.mqtt_url)
        self._topics = Topics(settings.mqtt_topic_prefix)
        self._discovery = (
            Discovery(self._topics, settings.ha_discovery_prefix) if settings.ha_discovery else None
        )
        self._announced: dict[str, list[Message]] = {}
        self._lock = threading.Lock()
        self._refused = 0
        self._client = self._make_client(settings)

    def _make_client(self, settings: Settings) -> mqtt.Client:
        client_id = settings.mqtt_client_id or f"facewatch-{uuid.uuid4().hex[:12]}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if self._broker.username is not None:
            client.username_pw_set(self._broker.username, self._broker.password)
        if self._broker.tls:
            client.tls_set()
        client.will_set(self._topics.status, "offline", qos=QOS, retain=True)
        client.max_queued_messages_set(settings.event_queue_size)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background (a broker that is down does not delay start-up)."""
        self._client.connect_async(self._broker.host, self._broker.port, _KEEPALIVE_SECONDS)
        self._client.loop_start()
        super().start()
        logger.info("MQTT: publishing to %s:%s", self._broker.host, self._broker.port)

    def stop(self, timeout: float) -> None:
        super().stop(timeout)
        if self._client.is_connected():
            info = self._client.publish(self._topics.status, "offline", qos=QOS, retain=True)
            info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def refused(self) -> int:
        """Messages paho refused (its queue full while the broker was away)."""
        return self._refused

    def handle(self, event: Event) -> None:
        for message in [*self._discovery_for(event), *event_messages(self._topics, event)]:
            self._publish(message)

    def _discovery_for(self, event: Event) -> list[Message]:
        """Discovery messages not yet sent (or changed, after a rename) for this event."""
        if self._discovery is None:
            return []
        wanted: dict[str, list[Message]] = {}
        if event.camera_id is not None:
            wanted[f"camera:{event.camera_id}"] = self._discovery.for_camera(event.camera_id)
        if event.person_id is not None:
            messages = self._discovery.for_person(event.person_id, event.person_name)
            wanted[f"person:{event.person_id}"] = messages
        with self._lock:
            fresh = {k: v for k, v in wanted.items() if self._announced.get(k) != v}
            self._announced.update(fresh)
        return [message for messages in fresh.values() for message in messages]

    def _publish(self, message: Message) -> None:
        info = self._client.publish(message.topic, message.payload, qos=QOS, retain=message.retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._refused += 1
            if self._refused == 1 or self._refused % 1000 == 0:
                logger.warning(
                    "MQTT: %s messages refused so far (%s)",
                    self._refused,
                    mqtt.error_string(info.rc),
                )

    def _announce_again(self) -> None:
        with self._lock:
            messages = [m for batch in self._announced.values() for m in batch]
        for message in messages:
            self._publish(message)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            logger.warning("MQTT: the broker refused the connection: %s", reason_code)
            return
        logger.info("MQTT: connected to %s:%s", self._broker.host, self._broker.port)
        client.publish(self._topics.status, "online", qos=QOS, retain=True)
        if self._discovery is not None:
            client.subscribe(self._discovery.birth_topic, qos=QOS)
            self._announce_again()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if (
            self._discovery is not None
            and message.topic == self._discovery.birth_topic
            and message.payload == b"online"
        ):
            logger.info("MQTT: Home Assistant (re)started; announcing the sensors again")
            self._announce_again()
