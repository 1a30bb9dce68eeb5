"""Mode local: which on-site verdicts become alerts, and where they go."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from facewatch.edge.alerts import AlertSink, LocalAlert, LocalAlerts, WebhookSink
from facewatch.edge.config import AlertConfig
from facewatch.types import MatchStatus


def alert(
    track: str = "r-1", person_id: int | None = 7, kind: str = "person.recognized"
) -> LocalAlert:
    return LocalAlert(
        kind=kind, camera_id="gate", edge_id="site", track_id=track,
        captured_at="2026-11-23T09:00:00+00:00", person_id=person_id,
        name="Ada" if person_id else None, category="watchlist" if person_id else None,
        distance=0.4, confidence=0.9, gallery_version="v1",
    )  # fmt: skip


class FakeSink(AlertSink):
    def __init__(self) -> None:
        self.sent: list[LocalAlert] = []
        self.done = threading.Event()

    def send(self, alert: LocalAlert) -> None:
        self.sent.append(alert)
        self.done.set()


def test_a_track_alerts_once_per_identity() -> None:
    sink = FakeSink()
    alerts = LocalAlerts(AlertConfig(), sinks=[sink])
    raised = [
        alerts.consider(alert(), MatchStatus.KNOWN),
        alerts.consider(alert(), MatchStatus.KNOWN),  # the same person on the same track
        alerts.consider(alert(person_id=None, kind="face.unknown"), MatchStatus.UNKNOWN),
        alerts.consider(alert(track="r-2"), MatchStatus.KNOWN),
        alerts.consider(alert(track="r-3"), MatchStatus.UNCERTAIN),  # nothing to act on
    ]
    alerts.close()
    assert raised == [True, False, True, True, False]
    assert [a.track_id for a in sink.sent] == ["r-1", "r-1", "r-2"]


def test_a_track_that_ended_may_alert_again_under_the_same_id() -> None:
    alerts = LocalAlerts(AlertConfig(), sinks=[])
    assert alerts.consider(alert(), MatchStatus.KNOWN)
    alerts.forget_track("gate", "r-1")
    assert alerts.consider(alert(), MatchStatus.KNOWN)


@pytest.mark.parametrize(
    ("config", "status", "raised"),
    [
        (AlertConfig(known_faces=False), MatchStatus.KNOWN, False),
        (AlertConfig(unknown_faces=False), MatchStatus.UNKNOWN, False),
        (AlertConfig(known_faces=False), MatchStatus.UNKNOWN, True),
    ],
)
def test_alerts_can_be_limited_to_known_or_unknown_faces(
    config: AlertConfig, status: MatchStatus, raised: bool
) -> None:
    assert LocalAlerts(config, sinks=[]).consider(alert(), status) is raised


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/alerts", received
    finally:
        server.shutdown()


def test_the_webhook_receives_each_alert_as_json(
    webhook: tuple[str, list[dict[str, object]]],
) -> None:
    url, received = webhook
    alerts = LocalAlerts(AlertConfig(webhook_url=url))
    alerts.consider(alert(), MatchStatus.KNOWN)
    alerts.close()
    assert [(a["name"], a["category"], a["kind"]) for a in received] == [
        ("Ada", "watchlist", "person.recognized")
    ]


def test_a_failing_sink_is_counted_and_does_not_stop_the_others() -> None:
    good = FakeSink()
    alerts = LocalAlerts(AlertConfig(), sinks=[WebhookSink("http://127.0.0.1:9/x", 1.0), good])
    alerts.consider(alert(), MatchStatus.KNOWN)
    alerts.close()
    assert alerts.failed == 1
    assert len(good.sent) == 1
