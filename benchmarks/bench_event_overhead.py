"""Does the event path slow down ingest? And how many events per second does it carry?

1. Ingest latency, side by side in one process: the same face crop POSTed to
   /api/v1/detections in rounds that rotate three modes: the live event bus with cooldown 0
   (every detection raises an event: rules, store, a webhook to a local receiver, MQTT when
   a broker answers on 127.0.0.1:1883), the same with the default 60 s cooldown (one person
   in view: one event, then none), and events disabled. Median and p95 per mode, and the
   ratio of each to "events off".
2. Dispatcher throughput: N stored detections published straight to the bus; the time
   until the dispatcher has raised and stored every event, and until the webhook receiver
   got them all. The receiver runs in this process too (it shares the 2 cores and the GIL).

    python benchmarks/bench_event_overhead.py [--rounds 9] [--per-round 10] [--burst 500]
"""

from __future__ import annotations

import argparse
import io
import socket
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from _shared import machine_line, testdata_dir
from facewatch.config import Settings
from facewatch.server.app import create_app
from facewatch.server.events import DetectionFacts, EventBus, create_event_bus
from facewatch.server.infra.runtime import Runtime

KNN = "face_recognition_examples/examples/knn_examples"


class Receiver:
    """A local webhook receiver that counts POSTs."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hook"


def broker_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


def face_crop(path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").crop((400, 100, 1100, 800)).resize((320, 320)).save(
        buffer, "JPEG", quality=90
    )
    return buffer.getvalue()


def enrol(client: TestClient, headers: dict[str, str], folder: Path) -> None:
    person = client.post("/api/v1/people", json={"name": folder.name}, headers=headers).json()
    files = [("images", (p.name, p.read_bytes())) for p in sorted(folder.iterdir())]
    client.post(f"/api/v1/people/{person['id']}/faces", files=files, headers=headers)


def timed_ingest(client: TestClient, headers: dict[str, str], crop: bytes, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.post(
            "/api/v1/detections",
            files={"image": ("f.jpg", crop)},
            data={"camera_id": "bench"},
            headers=headers,
        )
        times.append(time.perf_counter() - start)
        assert response.status_code == 201, response.text
    return times


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def latency(
    client: TestClient, runtime: Runtime, headers: dict[str, str], crop: bytes, args: Any
) -> dict[str, list[float]]:
    """Alternate the modes round by round, rotating their order, on one app."""
    typical = create_event_bus(
        runtime.settings.model_copy(update={"event_cooldown_seconds": 60.0}),
        runtime.uow,
        lambda: runtime.recognition.match_threshold,
    )
    typical.start()
    buses = {
        "events on, cooldown 0 (an event per detection)": runtime.events,
        "events on, cooldown 60 s (one person in view)": typical,
        "events off": EventBus.disabled(),
    }
    results: dict[str, list[float]] = {mode: [] for mode in buses}
    timed_ingest(client, headers, crop, 3)  # warm-up
    modes = list(buses)
    for round_ in range(args.rounds):
        shift = round_ % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            runtime.events = buses[mode]
            results[mode] += timed_ingest(client, headers, crop, args.per_round)
    runtime.events = buses[modes[0]]
    typical.stop()
    return results


def throughput(runtime: Runtime, receiver: Receiver, burst: int) -> dict[str, float]:
    with runtime.uow() as uow:
        rows, _ = uow.detections.query(camera_id="bench", limit=1)
    row = rows[0]
    facts = [DetectionFacts.of(row) for _ in range(burst)]
    bus = runtime.events
    handled_before = _handled(bus)
    hooks_before = receiver.count
    start = time.perf_counter()
    for fact in facts:
        bus.publish([fact])
    published = time.perf_counter() - start
    while _handled(bus) < handled_before + burst and time.perf_counter() - start < 120:
        time.sleep(0.01)
    stored = time.perf_counter() - start
    while receiver.count < hooks_before + burst and time.perf_counter() - start < 180:
        time.sleep(0.01)
    delivered = time.perf_counter() - start
    stats = bus.stats()
    dropped = (stats.dispatcher.dropped if stats.dispatcher else 0) + sum(
        s.dropped for s in stats.sinks
    )
    return {
        "publish_us": published / burst * 1e6,
        "stored_per_s": burst / stored,
        "webhooks_per_s": (receiver.count - hooks_before) / delivered,
        "dropped": float(dropped),
    }


def _handled(bus: EventBus) -> int:
    stats = bus.stats().dispatcher
    return 0 if stats is None else stats.handled + stats.failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--per-round", type=int, default=10)
    parser.add_argument("--burst", type=int, default=500)
    args = parser.parse_args()
    knn = testdata_dir() / KNN
    receiver = Receiver()
    mqtt = broker_answers()
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(
            data_dir=Path(data),
            event_cooldown_seconds=0,
            event_queue_size=10_000,
            mqtt_url="mqtt://127.0.0.1:1883" if mqtt else None,
            mqtt_topic_prefix="facewatch-bench",
            ha_discovery_prefix="homeassistant-bench",
        )
        with TestClient(create_app(settings)) as client:
            runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            with runtime.uow() as uow:
                _, secret = uow.api_keys.create("bench", ["admin"])
                uow.commit()
            headers = {"Authorization": f"Bearer {secret}"}
            enrol(client, headers, knn / "train" / "obama")
            hook = {"url": receiver.url, "event_types": ["person.recognized"]}
            client.post("/api/v1/webhooks", json=hook, headers=headers)
            crop = face_crop(knn / "test" / "obama1.jpg")
            results = latency(client, runtime, headers, crop, args)
            flow = throughput(runtime, receiver, args.burst)
    report(results, flow, mqtt, args)


def report(results: dict[str, list[float]], flow: dict[str, float], mqtt: bool, args: Any) -> None:
    sinks = "store, live, webhook" + (", MQTT" if mqtt else " (no broker: MQTT off)")
    print(f"ingest latency, {args.rounds} alternating rounds x {args.per_round}; sinks: {sinks}")
    print("| mode | n | median ms | p95 ms |")
    print("|---|---|---|---|")
    for mode, times in results.items():
        ms = [t * 1000 for t in times]
        print(f"| {mode} | {len(ms)} | {statistics.median(ms):.1f} | {p95(ms):.1f} |")
    off = statistics.median(results["events off"])
    for mode, times in results.items():
        if mode != "events off":
            print(f"median ratio ({mode}) / (events off): {statistics.median(times) / off:.3f}")
    print(
        f"burst of {args.burst}: publish {flow['publish_us']:.1f} us/call; raised+stored "
        f"{flow['stored_per_s']:.0f} events/s; webhooks delivered {flow['webhooks_per_s']:.0f}/s; "
        f"dropped {flow['dropped']:.0f}"
    )
    print(machine_line())


if __name__ == "__main__":
    main()
