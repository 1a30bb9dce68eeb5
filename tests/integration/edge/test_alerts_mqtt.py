"""Mode local: alerts published to the real Mosquitto on 127.0.0.1:1883."""

from __future__ import annotations

import uuid

from facewatch.edge.alerts import LocalAlert, LocalAlerts
from facewatch.edge.config import AlertConfig
from facewatch.types import MatchStatus

from ..events.mqtt_probe import HOST, PORT, MqttProbe, require_broker


def test_an_alert_is_published_on_the_cameras_topic() -> None:
    require_broker()
    topic = f"facewatch-test/{uuid.uuid4().hex[:8]}/alerts"
    alert = LocalAlert(
        kind="face.unknown", camera_id="gate", edge_id="site", track_id="r-4",
        captured_at="2026-11-23T09:00:00+00:00", person_id=None, name=None, category=None,
        distance=0.8, confidence=0.9, gallery_version="v1",
    )  # fmt: skip
    with MqttProbe([f"{topic}/#"]) as probe:
        alerts = LocalAlerts(AlertConfig(mqtt_host=HOST, mqtt_port=PORT, mqtt_topic=topic))
        assert alerts.consider(alert, MatchStatus.UNKNOWN)
        alerts.close()
        (seen,) = probe.wait_for(lambda s: s.topic == f"{topic}/gate")
    assert seen.json["kind"] == "face.unknown"
    assert seen.json["track_id"] == "r-4"
    assert alerts.failed == 0


def test_an_alert_to_a_broker_that_never_answers_is_counted_as_failed() -> None:
    require_broker()
    dead = AlertConfig(mqtt_host=HOST, mqtt_port=1, mqtt_topic="facewatch-test/dead", timeout=0.5)
    alert = LocalAlert(
        kind="face.unknown", camera_id="gate", edge_id="site", track_id="r-5",
        captured_at="2026-11-23T09:00:00+00:00", person_id=None, name=None, category=None,
        distance=0.8, confidence=0.9, gallery_version="v1",
    )  # fmt: skip
    alerts = LocalAlerts(dead)

    assert alerts.consider(alert, MatchStatus.UNKNOWN)
    alerts.close()

    assert alerts.failed == 1
