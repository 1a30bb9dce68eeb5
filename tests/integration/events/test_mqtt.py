"""MQTT against the real Mosquitto on 127.0.0.1:1883: topics, payloads, retained states,
Home Assistant discovery."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from integration.events.live import LiveServer
from integration.events.mqtt_probe import MqttProbe, Seen, require_broker

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

Ingest = Callable[..., dict[str, Any]]


@pytest.fixture(autouse=True)
def broker() -> None:
    require_broker()


@pytest.fixture
def prefixes(live: LiveServer) -> tuple[str, str]:
    """The topic prefix and the Home Assistant discovery prefix of the test server."""
    return live.settings.mqtt_topic_prefix, live.settings.ha_discovery_prefix


def raise_event(
    who: str,
    ingest: Ingest,
    cam: str,
    wait_for_events: Callable[..., list[dict[str, Any]]],
) -> dict[str, Any]:
    ingest(who, cam, T0)
    [event] = wait_for_events(1, camera_id=cam)
    return event


def test_an_event_goes_to_the_all_events_camera_and_person_topics(
    prefixes: tuple[str, str],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
    enrolled: dict[str, int],
) -> None:
    prefix, _ = prefixes
    cam = camera()
    with MqttProbe([f"{prefix}/#"]) as probe:
        event = raise_event("obama", ingest, cam, wait_for_events)
        topics = [
            f"{prefix}/events",
            f"{prefix}/cameras/{cam}/events",
            f"{prefix}/people/{enrolled['obama']}/events",
        ]
        found = probe.wait_for(
            lambda m: m.topic in topics and m.json["id"] == event["id"], count=len(topics)
        )
    assert sorted(m.topic for m in found) == sorted(topics)
    assert all(m.json == event for m in found)
    assert not any(m.retain for m in found)


def test_a_stranger_goes_to_the_unknown_topic(
    prefixes: tuple[str, str],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
) -> None:
    prefix, _ = prefixes
    cam = camera()
    with MqttProbe([f"{prefix}/people/unknown/events"]) as probe:
        event = raise_event("stranger_kit", ingest, cam, wait_for_events)
        found = probe.wait_for(lambda m: m.json["id"] == event["id"])
    assert [m.json["type"] for m in found] == ["person.unknown"]


def test_who_a_camera_saw_last_and_where_a_person_was_last_are_retained(
    prefixes: tuple[str, str],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
    enrolled: dict[str, int],
    settle: Callable[[], None],
) -> None:
    prefix, _ = prefixes
    cam = camera()
    event = raise_event("alex_lacamoire", ingest, cam, wait_for_events)
    settle()
    person_topic = f"{prefix}/people/{enrolled['alex_lacamoire']}/last_seen"
    camera_topic = f"{prefix}/cameras/{cam}/last_person"

    with MqttProbe([camera_topic]) as late:  # subscribes after the fact
        seen_by_camera = late.on_topic(camera_topic)
    with MqttProbe([person_topic]) as late:
        last_seen = late.wait_for(
            lambda m: m.topic == person_topic and m.json["event_id"] == event["id"]
        )

    assert seen_by_camera is not None
    assert seen_by_camera.retain
    assert seen_by_camera.json["person"] == "alex_lacamoire"
    assert seen_by_camera.json["event_id"] == event["id"]
    assert seen_by_camera.json["person_id"] == enrolled["alex_lacamoire"]
    [where] = last_seen
    assert where.retain
    assert (where.json["camera"], datetime.fromisoformat(where.json["time"])) == (cam, T0)


def test_a_camera_that_saw_a_stranger_last_says_unknown(
    prefixes: tuple[str, str],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
    settle: Callable[[], None],
) -> None:
    prefix, _ = prefixes
    cam = camera()
    event = raise_event("stranger_rose", ingest, cam, wait_for_events)
    settle()
    with MqttProbe([f"{prefix}/cameras/{cam}/last_person"]) as late:
        state = late.on_topic(f"{prefix}/cameras/{cam}/last_person")
    assert state is not None
    assert (state.json["person"], state.json["unknown_id"]) == ("unknown", event["unknown_id"])


def _configs(probe: MqttProbe, ha: str, object_ids: list[str]) -> dict[str, dict[str, Any]]:
    wanted = {f"{ha}/sensor/{{node}}/{object_id}/config" for object_id in object_ids}

    def is_wanted(message: Seen) -> bool:
        parts = message.topic.split("/")
        return len(parts) == 5 and "/".join([*parts[:2], "{node}", *parts[3:]]) in wanted

    found = probe.wait_for(is_wanted, count=len(wanted))
    return {m.topic.split("/")[3]: m.json for m in found}


def test_home_assistant_discovers_a_last_person_sensor_per_camera_and_two_per_person(
    prefixes: tuple[str, str],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
    enrolled: dict[str, int],
    settle: Callable[[], None],
) -> None:
    prefix, ha = prefixes
    cam = camera()
    raise_event("biden", ingest, cam, wait_for_events)
    settle()
    person = enrolled["biden"]
    object_ids = [
        f"camera_{cam}_last_person",
        f"person_{person}_last_camera",
        f"person_{person}_last_seen",
    ]
    with MqttProbe([f"{ha}/sensor/#"]) as late:
        configs = _configs(late, ha, object_ids)

    assert sorted(configs) == sorted(object_ids)
    camera_sensor = configs[f"camera_{cam}_last_person"]
    assert camera_sensor["state_topic"] == f"{prefix}/cameras/{cam}/last_person"
    assert camera_sensor["value_template"] == "{{ value_json.person }}"
    assert camera_sensor["availability_topic"] == f"{prefix}/status"
    last_seen = configs[f"person_{person}_last_seen"]
    assert last_seen["device_class"] == "timestamp"
    assert last_seen["state_topic"] == f"{prefix}/people/{person}/last_seen"
    assert last_seen["device"]["name"] == "biden"
    assert configs[f"person_{person}_last_camera"]["value_template"] == "{{ value_json.camera }}"
    assert len({c["unique_id"] for c in configs.values()}) == 3


def test_home_assistant_restarting_gets_the_sensors_announced_again(
    prefixes: tuple[str, str],
    ingest: Ingest,
    camera: Callable[[], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
    settle: Callable[[], None],
) -> None:
    _, ha = prefixes
    cam = camera()
    raise_event("obama", ingest, cam, wait_for_events)
    settle()
    with MqttProbe([f"{ha}/sensor/#"]) as probe:
        _configs(probe, ha, [f"camera_{cam}_last_person"])  # the retained copy
        probe.client.publish(f"{ha}/status", "online", qos=1).wait_for_publish(5)
        again = probe.wait_for(
            lambda m: m.topic.endswith(f"/camera_{cam}_last_person/config") and not m.retain
        )
    assert again, "the discovery message was not sent again after Home Assistant's birth"


def test_the_server_says_it_is_online(prefixes: tuple[str, str], live: LiveServer) -> None:
    prefix, _ = prefixes
    with MqttProbe([f"{prefix}/status"]) as probe:
        status = probe.on_topic(f"{prefix}/status")
    assert status is not None
    assert (status.payload, status.retain) == (b"online", True)
