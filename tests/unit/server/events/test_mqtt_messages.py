"""MQTT topics, payloads and Home Assistant discovery messages for an event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from facewatch.server.events.mqtt_messages import Discovery, Topics, event_messages, safe_id
from facewatch.server.events.types import Event, EventType, Severity

TOPICS = Topics("fw")


def event(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "id": "e1",
        "type": EventType.PERSON_RECOGNIZED,
        "severity": Severity.INFO,
        "time": datetime(2026, 1, 1, 9, tzinfo=UTC),
        "camera_id": "gate-1",
        "zone": "lobby",
        "person_id": 4,
        "person_name": "obama",
        "category": "staff",
        "unknown_id": None,
        "detection_id": 9,
        "distance": 0.31,
        "confidence": 0.9,
        "crop_url": "/api/v1/detections/9/crop",
    }
    return Event.model_validate({**fields, **changes})


# event changes -> {topic: retained}
LAYOUTS = {
    "a known person on a camera": (
        {},
        {
            "fw/events": False,
            "fw/people/4/events": False,
            "fw/cameras/gate-1/events": False,
            "fw/cameras/gate-1/last_person": True,
            "fw/people/4/last_seen": True,
        },
    ),
    "a stranger": (
        {"person_id": None, "person_name": None, "category": None, "unknown_id": "unknown-1"},
        {
            "fw/events": False,
            "fw/people/unknown/events": False,
            "fw/cameras/gate-1/events": False,
            "fw/cameras/gate-1/last_person": True,
        },
    ),
    "a camera since deleted": (
        {"camera_id": None},
        {"fw/events": False, "fw/people/4/events": False, "fw/people/4/last_seen": True},
    ),
}


@pytest.mark.parametrize(("changes", "expected"), LAYOUTS.values(), ids=LAYOUTS)
def test_an_event_is_published_to_its_topics_with_retained_states(
    changes: dict[str, Any], expected: dict[str, bool]
) -> None:
    messages = event_messages(TOPICS, event(**changes))
    assert {m.topic: m.retain for m in messages} == expected


def test_the_camera_state_names_a_stranger_unknown() -> None:
    stranger = event(person_id=None, person_name=None, unknown_id="unknown-1")
    [state] = [m for m in event_messages(TOPICS, stranger) if m.topic.endswith("last_person")]
    assert json.loads(state.payload)["person"] == "unknown"


def test_discovery_topics_and_ids_are_safe_for_home_assistant() -> None:
    discovery = Discovery(Topics("site.a"), "homeassistant")
    [sensor] = discovery.for_camera("cam:1.front")
    config = json.loads(sensor.payload)
    assert sensor.topic == "homeassistant/sensor/site_a/camera_cam_1_front_last_person/config"
    assert sensor.retain
    assert config["unique_id"] == "site_a_camera_cam_1_front_last_person"
    assert config["state_topic"] == "site.a/cameras/cam:1.front/last_person"
    assert config["availability_topic"] == "site.a/status"


def test_a_person_gets_a_last_camera_and_a_last_seen_timestamp_sensor() -> None:
    sensors = Discovery(TOPICS, "ha").for_person(4, "obama")
    configs = {m.topic: json.loads(m.payload) for m in sensors}
    assert set(configs) == {
        "ha/sensor/fw/person_4_last_camera/config",
        "ha/sensor/fw/person_4_last_seen/config",
    }
    assert configs["ha/sensor/fw/person_4_last_seen/config"]["device_class"] == "timestamp"
    assert all(c["device"]["name"] == "obama" for c in configs.values())


@pytest.mark.parametrize(("raw", "safe"), [("gate-1", "gate-1"), ("a.b:c d", "a_b_c_d")])
def test_safe_ids_keep_letters_digits_underscores_and_dashes(raw: str, safe: str) -> None:
    assert safe_id(raw) == safe


def test_the_retained_states_give_the_time_as_the_event_does() -> None:
    messages = event_messages(TOPICS, event())
    times = {json.loads(m.payload)["time"] for m in messages}
    assert times == {"2026-01-01T09:00:00Z"}
