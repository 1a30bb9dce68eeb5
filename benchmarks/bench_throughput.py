"""Face crops per second end to end through the HTTP API, dlib runtime vs onnxruntime.

Two real servers run side by side (``python -m facewatch.cli serve``, each on a free port with
its own temporary data dir and admin key): one with ``FACEWATCH_EMBEDDER=dlib``, one with
``FACEWATCH_EMBEDDER=onnx``; both with their default analysis workers (one per core) and the
per-key rate limits off (they would cap one key at 10 recognitions a second). The five
people of face_recognition_examples/examples/knn_examples/train are enrolled in each through
the API. Then, in rounds that alternate the servers (so that load from other processes hits
both alike), an asyncio client keeps ``--concurrency`` requests in flight for ``--seconds``
per phase, each request one face crop:

* ``POST /api/v1/recognize`` (multipart ``image``): decode, detect again, align, embed, match;
* ``POST /api/v1/detections`` (``image``, ``camera_id``, a unique ``idempotency_key``): the
  same, then the crop and a detection row are stored;
* ``POST /api/v1/edge/batch`` (route ``batch``): what the edge agent sends, ``--batch`` crops
  per request (a JSON manifest and the crops as file parts), each stored as ``detections``
  stores it; the crops of a batch are analysed side by side by the workers.

A route named with ``+box`` (``recognize+box``, ``detections+box``, ``batch+box``) sends each
crop with the face box the client found in it, as the edge agent does (``face_box``; ``box``
in a batch manifest): the server then checks that region only instead of searching the crop.

Crops: every face dlib's HOG (upsampled once) finds in frames 0, 8, ..., 96 of
facenet_pytorch/examples/video.mp4 (pedestrians walking toward the camera, 1920x1080),
cut as the reference crop of bench_api_latency.py is (the box, 7 px wider on each side;
JPEG q95): about 90x76 px. The client, the servers and their workers all share this
machine's cores; the client's own CPU time is reported.

Reported per server and route: crops per second (crops of completed requests / wall time),
share of crops in which a face was found, latency p50 / p95 per request, server CPU ms per
crop (the server and its worker processes), and the 1-minute load average before each
phase. The older system managed 7.6 requests per second per 2 vCPUs.

    python benchmarks/bench_throughput.py                       # markdown on stdout
    python benchmarks/bench_throughput.py --seconds 30 --rounds 3 --concurrency 16
    python benchmarks/bench_throughput.py --runtimes onnx --routes recognize,recognize+box
    python benchmarks/bench_throughput.py --runtimes onnx,onnx:lookup --routes recognize

A runtime named ``onnx:lookup`` (or ``dlib:lookup``) is that runtime's server with
``FACEWATCH_API_KEY_CACHE_SECONDS=0``: every request looks its API key up in the database,
as every request did before the verified-key cache. ``--baseline DIR`` adds, for each
runtime, a server run from another checkout's ``DIR/src`` (say, a clone at an earlier
commit), named ``<runtime>@baseline``, to compare a change side by side in one run:

    git clone -q . /tmp/base && git -C /tmp/base checkout -q <commit>
    python benchmarks/bench_throughput.py --runtimes onnx --baseline /tmp/base

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx

from _shared import (
    STREET_CLIP,
    STREET_FRAMES,
    create_key,
    machine_line,
    serve,
    testdata_dir,
    video_faces,
)

VIDEO = STREET_CLIP
FRAMES = STREET_FRAMES
MARGIN = 7
TRAIN_DIR = "face_recognition_examples/examples/knn_examples/train"
OLD_SYSTEM_RPS = 7.6
ROUTES = ("recognize", "detections", "batch")
BATCH_ROUTE = "/api/v1/edge/batch"
RUNTIMES = ("edgeface", "onnx", "dlib")
VARIANTS = {"lookup": {"FACEWATCH_API_KEY_CACHE_SECONDS": "0"}}
BASELINE = "@baseline"
"""Server settings a runtime name may add after a colon (``onnx:lookup``)."""


@dataclass(frozen=True)
class Crop:
    """A face crop as JPEG bytes and the face box within it (where HOG found the face)."""

    data: bytes
    face_box: list[int]


@dataclass(frozen=True)
class Server:
    runtime: str
    base_url: str
    key: str
    pid: int


@dataclass
class Phase:
    """One server, one route, one stretch of time under load."""

    runtime: str
    route: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    crops: int = 0
    with_face: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    main_cpu: float = 0.0
    worker_cpu: float = 0.0
    client_cpu: float = 0.0
    load: float = 0.0

    @property
    def done(self) -> int:
        """Crops of the completed requests."""
        return self.crops


# --- crops ------------------------------------------------------------------------------------


def make_crops(video: Path) -> list[Crop]:
    """JPEG crops of every face HOG finds in the sampled frames."""
    crops: list[Crop] = []
    for rgb, box in video_faces(video, FRAMES):
        left, top = max(box.left - MARGIN, 0), max(box.top, 0)
        crop = rgb[top : box.bottom, left : box.right + MARGIN]
        bgr = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if ok:
            crops.append(Crop(encoded.tobytes(), box.moved(-left, -top).as_list()))
    if not crops:
        raise SystemExit(f"no faces found in {video}")
    return crops


def crop_sizes(crops: Sequence[Crop]) -> str:
    import numpy as np

    shapes = [cv2.imdecode(np.frombuffer(c.data, np.uint8), 1).shape for c in crops]
    widths = sorted(s[1] for s in shapes)
    heights = sorted(s[0] for s in shapes)
    return (
        f"{len(crops)} crops, median {widths[len(widths) // 2]}x{heights[len(heights) // 2]} px "
        f"(widths {widths[0]}..{widths[-1]})"
    )


# --- servers ----------------------------------------------------------------------------------


@contextmanager
def server(runtime: str, data_dir: Path, baseline: Path | None = None) -> Iterator[Server]:
    """A `facewatch serve` subprocess with ``FACEWATCH_EMBEDDER=runtime`` (and the settings of
    a ``:variant``), from ``baseline/src`` if given; stopped after."""
    embedder, _, variant = runtime.removesuffix(BASELINE).partition(":")
    source = {"PYTHONPATH": str(baseline / "src")} if baseline is not None else {}
    env = {
        **os.environ,
        **source,
        **VARIANTS.get(variant, {}),
        "FACEWATCH_DATA_DIR": str(data_dir),
        "FACEWATCH_EMBEDDER": embedder,
        # Capacity is measured, not the per-key rate limits (600 recognitions a minute...).
        "FACEWATCH_RATE_LIMIT_RECOGNIZE_PER_MINUTE": "0",
        "FACEWATCH_RATE_LIMIT_INGEST_PER_MINUTE": "0",
    }
    key = create_key(env, "admin")
    with serve(env, data_dir / "server.log") as (base_url, pid):
        yield Server(runtime, base_url, key, pid)


def enrol(server: Server, train: Path) -> None:
    headers = {"Authorization": f"Bearer {server.key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as client:
        for folder in sorted(p for p in train.iterdir() if p.is_dir()):
            created = client.post("/api/v1/people", json={"name": folder.name})
            created.raise_for_status()
            files = [("images", (p.name, p.read_bytes())) for p in sorted(folder.iterdir())]
            client.post(f"/api/v1/people/{created.json()['id']}/faces", files=files)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the analysis workers, their fork server)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def server_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of the server process itself and of all its descendants."""
    return process_cpu(pid), sum(process_cpu(child) for child in descendants(pid))


# --- load -------------------------------------------------------------------------------------


BOUNDARY = "facewatch-bench-boundary"


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if filename:
        head += "Content-Type: image/jpeg\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


RUN = uuid.uuid4().hex[:12]
"""Idempotency keys are bench-<RUN>-<n>-<item>: each phase counts n on from the last, so no
key is sent twice (a repeated key is answered from the database, not analysed)."""
_numbers = itertools.count()


def request_bytes(server: Server, route: str, crops: Sequence[Crop], number: int) -> bytes:
    """One whole HTTP/1.1 request (a lean client: the load generator shares the cores)."""
    key = f"bench-{RUN}-{number}"
    route, _, hint = route.partition("+")
    if route == "batch":
        items: list[dict[str, Any]] = [
            {"kind": "crop", "camera_id": "bench-cam", "idempotency_key": f"{key}-{n}", "image": n}
            for n in range(len(crops))
        ]
        if hint:
            for item, crop in zip(items, crops, strict=True):
                item["box"] = crop.face_box
        body = _part("manifest", json.dumps({"items": items}).encode())
        body += b"".join(_part("files", c.data, f"crop{n}.jpg") for n, c in enumerate(crops))
        path = BATCH_ROUTE
    else:
        body = _part("image", crops[0].data, "crop.jpg")
        if hint:
            body += _part("face_box", ",".join(map(str, crops[0].face_box)).encode())
        if route == "detections":
            body += _part("camera_id", b"bench-cam")
            body += _part("idempotency_key", key.encode())
        path = f"/api/v1/{route}"
    body += f"--{BOUNDARY}--\r\n".encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {server.key}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def with_faces(answer: dict[str, Any]) -> int:
    """Crops of an answer in which a face was found."""
    if "results" in answer:
        return sum(bool(result.get("detections")) for result in answer["results"])
    return int(bool(answer.get("faces") or answer.get("detections")))


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _connection(
    server: Server,
    phase: Phase,
    crops: Sequence[Crop],
    counter: Iterator[int],
    deadline: float,
    batch: int,
) -> None:
    """One keep-alive connection sending requests back to back until ``deadline``."""
    host, port = server.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        while time.perf_counter() < deadline:
            number = next(counter)
            size = batch if phase.route.startswith("batch") else 1
            sent = [crops[(number * size + n) % len(crops)] for n in range(size)]
            request = request_bytes(server, phase.route, sent, number)
            started = time.perf_counter()
            status, body = await _exchange(reader, writer, request)
            if status not in (200, 201):
                phase.errors[status] += 1
                continue
            phase.latencies.append(time.perf_counter() - started)
            phase.crops += size
            phase.with_face += with_faces(json.loads(body))
    finally:
        writer.close()


async def _drive(
    server: Server, phase: Phase, crops: Sequence[Crop], args: argparse.Namespace
) -> None:
    counter = _numbers

    async def load(seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _connection(server, phase, crops, counter, deadline, args.batch)
                for _ in range(args.concurrency)
            )
        )

    await load(2)  # warm-up, not counted
    phase.latencies.clear()
    phase.crops = 0
    phase.with_face = 0
    phase.errors.clear()
    phase.load = os.getloadavg()[0]
    (main_before, workers_before), client_before = server_cpu(server.pid), time.process_time()
    started = time.perf_counter()
    await load(args.seconds)
    phase.seconds = time.perf_counter() - started
    main_after, workers_after = server_cpu(server.pid)
    phase.main_cpu, phase.worker_cpu = main_after - main_before, workers_after - workers_before
    phase.client_cpu = time.process_time() - client_before


def run(args: argparse.Namespace, crops: Sequence[Crop], servers: list[Server]) -> list[Phase]:
    phases: list[Phase] = []
    for round_number in range(args.rounds):
        order = servers[round_number % len(servers) :] + servers[: round_number % len(servers)]
        for each in order:
            for route in args.routes:
                phase = Phase(each.runtime, route)
                asyncio.run(_drive(each, phase, crops, args))
                print(
                    f"round {round_number + 1} {each.runtime:5s} {route:10s} "
                    f"{phase.done / phase.seconds:6.1f} crops/s (load {phase.load:.1f})",
                    file=sys.stderr,
                )
                phases.append(phase)
    return phases


# --- report -----------------------------------------------------------------------------------


def markdown(phases: Sequence[Phase], args: argparse.Namespace, sizes: str) -> str:
    lines = [
        "| runtime | route | crops/s | x old system | with a face | p50 ms | p95 ms "
        "| server CPU ms/crop: main + workers | client CPU ms/crop | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for runtime in dict.fromkeys(p.runtime for p in phases):
        for route in args.routes:
            mine = [p for p in phases if p.runtime == runtime and p.route == route]
            done = sum(p.done for p in mine)
            seconds = sum(p.seconds for p in mine)
            latencies = sorted(x for p in mine for x in p.latencies)
            rate = done / seconds
            lines.append(
                f"| {runtime} | {route} | {rate:.1f} | {rate / OLD_SYSTEM_RPS:.1f}x "
                f"| {sum(p.with_face for p in mine) / max(done, 1):.0%} "
                f"| {1000 * statistics.median(latencies):.0f} "
                f"| {1000 * latencies[int(0.95 * (len(latencies) - 1))]:.0f} "
                f"| {1000 * sum(p.main_cpu for p in mine) / max(done, 1):.1f} + "
                f"{1000 * sum(p.worker_cpu for p in mine) / max(done, 1):.1f} "
                f"| {1000 * sum(p.client_cpu for p in mine) / max(done, 1):.1f} "
                f"| {', '.join(f'{p.load:.1f}' for p in mine)} |"
            )
    errors = sum((p.errors for p in phases), Counter[int]())
    command = "python benchmarks/bench_throughput.py " + " ".join(sys.argv[1:])
    return "\n".join(
        [
            *lines,
            "",
            f"`{command.strip()}`: {args.rounds} round(s) of {args.seconds:.0f} s per phase, "
            f"{args.concurrency} requests in flight ({args.batch} crops per batch request), "
            f"{sizes}; "
            f"errors by status: {dict(errors) or 'none'}.",
            f"Machine: {machine_line()}.",
        ]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per phase")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the servers")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument(
        "--runtimes", default=",".join(RUNTIMES), help="edgeface,onnx,dlib, each also :lookup"
    )
    parser.add_argument(
        "--routes",
        default=",".join(ROUTES),
        help="recognize,detections,batch, each also with +box (the crop's face box sent)",
    )
    parser.add_argument("--batch", type=int, default=16, help="crops per batch request")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another checkout: each runtime also runs from DIR/src, named <runtime>@baseline",
    )
    args = parser.parse_args(argv)
    args.runtimes = [r for r in args.runtimes.split(",") if r]
    args.routes = [r for r in args.routes.split(",") if r]
    for runtime in args.runtimes:
        embedder, _, variant = runtime.partition(":")
        if embedder not in RUNTIMES or (variant and variant not in VARIANTS):
            parser.error(f"unknown runtime {runtime!r}: {', '.join(RUNTIMES)}, each also :lookup")
    if args.baseline is not None and not (args.baseline / "src" / "facewatch").is_dir():
        parser.error(f"--baseline {args.baseline}: no src/facewatch there")
    for route in args.routes:
        if route.removesuffix("+box") not in ROUTES:
            parser.error(f"unknown route {route!r}: {', '.join(ROUTES)}, each also with +box")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    testdata = testdata_dir()
    print("cutting crops from the video...", file=sys.stderr)
    crops = make_crops(testdata / VIDEO)
    sizes = crop_sizes(crops)
    with ExitStack() as stack:
        servers = []
        for runtime in args.runtimes:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            started = stack.enter_context(server(runtime, data_dir))
            enrol(started, testdata / TRAIN_DIR)
            servers.append(started)
            if args.baseline is not None:
                data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                old = stack.enter_context(server(runtime + BASELINE, data_dir, args.baseline))
                enrol(old, testdata / TRAIN_DIR)
                servers.append(old)
        phases = run(args, crops, servers)
    print(markdown(phases, args, sizes))


if __name__ == "__main__":
    main()
