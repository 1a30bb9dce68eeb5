"""The live stream: Server-Sent Events over real HTTP, filtered, kept alive, resumable."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from integration.events.live import LiveServer

STREAM = "/api/v1/events/stream"
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

Ingest = Callable[..., dict[str, Any]]


class SseReader:
    """Reads an SSE stream on a thread; hands over its messages, comments included."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._messages: queue.Queue[dict[str, str]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        for line in self._response.iter_lines():
            if self._stop.is_set():
                return
            if line == "":
                if fields:
                    self._messages.put(fields)
                fields = {}
            elif line.startswith(":"):
                self._messages.put({"comment": line[1:].strip()})
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    def next(self, timeout: float = 10.0) -> dict[str, str] | None:
        """The next message (event, retry or comment); ``None`` after ``timeout``."""
        try:
            return self._messages.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def next_event(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The next event's JSON (skipping comments); ``None`` if none comes in time."""
        deadline = time.monotonic() + timeout
        while (message := self.next(deadline - time.monotonic())) is not None:
            if "data" in message:
                event: dict[str, Any] = json.loads(message["data"])
                assert message["id"] == event["id"]
                return event
        return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@contextmanager
def stream(live: LiveServer, headers: dict[str, str], **params: Any) -> Iterator[SseReader]:
    """An open event stream, subscribed (its first message has been read)."""
    with (
        httpx.Client(base_url=live.url, timeout=httpx.Timeout(10.0)) as client,
        client.stream("GET", STREAM, params=params, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(response)
        try:
            assert reader.next() == {"retry": "3000"}
            yield reader
        finally:
            reader.close()


def test_the_stream_carries_only_the_events_its_filters_let_through(
    live: LiveServer,
    ingest: Ingest,
    read_key: dict[str, str],
    camera: Callable[[str], str],
) -> None:
    watched, other = camera("w"), camera("o")
    with stream(live, read_key, camera_id=watched, type="person.unknown") as reader:
        ingest("obama", watched, T0)  # wrong type
        ingest("stranger_kit", other, T0)  # wrong camera
        ingest("stranger_rose", watched, T0)  # this one
        event = reader.next_event()
        assert event is not None
        assert (event["camera_id"], event["type"]) == (watched, "person.unknown")
        assert reader.next_event(timeout=1.0) is None


def test_the_stream_filters_by_zone(
    live: LiveServer,
    ingest: Ingest,
    read_key: dict[str, str],
    camera: Callable[[str], str],
) -> None:
    inside, outside = camera("in"), camera("out")
    zone = {"id": f"z-{inside}", "name": "watched", "restricted": False, "cameras": [inside]}
    assert live.client.post("/api/v1/zones", json=zone, headers=live.admin).status_code == 201
    with stream(live, read_key, zone=zone["id"]) as reader:
        ingest("stranger_kit", outside, T0)
        ingest("obama", inside, T0)
        event = reader.next_event()
        assert event is not None
        assert (event["camera_id"], event["zone"]) == (inside, zone["id"])


def test_an_idle_stream_sends_keep_alive_comments(
    live: LiveServer, read_key: dict[str, str], camera: Callable[[str], str]
) -> None:
    with stream(live, read_key, camera_id=camera("idle")) as reader:
        assert reader.next(timeout=3.0) == {"comment": "keep-alive"}


def test_a_reconnecting_client_gets_what_it_missed_after_its_last_event_id(
    live: LiveServer,
    ingest: Ingest,
    read_key: dict[str, str],
    camera: Callable[[str], str],
    wait_for_events: Callable[..., list[dict[str, Any]]],
    settle: Callable[[], None],
) -> None:
    cam = camera("r")
    for minute in range(3):  # three events, 5 minutes apart: no cooldown between them
        ingest("obama", cam, T0 + timedelta(minutes=5 * minute))
    settle()
    oldest_first = list(reversed(wait_for_events(3, camera_id=cam)))
    headers = {**read_key, "Last-Event-ID": oldest_first[0]["id"]}

    with stream(live, headers, camera_id=cam) as reader:
        replayed = [reader.next_event(), reader.next_event()]
        assert [e["id"] for e in replayed if e] == [e["id"] for e in oldest_first[1:]]
        assert reader.next_event(timeout=1.0) is None


def test_every_subscriber_gets_the_event(
    live: LiveServer,
    ingest: Ingest,
    read_key: dict[str, str],
    camera: Callable[[str], str],
) -> None:
    cam = camera("many")
    with stream(live, read_key, camera_id=cam) as first, stream(live, read_key) as second:
        ingest("biden", cam, T0)
        mine = first.next_event()
        assert mine is not None
        seen_by_second = second.next_event()
        while seen_by_second is not None and seen_by_second["id"] != mine["id"]:
            seen_by_second = second.next_event()  # other tests' events may come first
        assert seen_by_second == mine
