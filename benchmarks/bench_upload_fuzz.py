"""Fuzz every upload route of a real `facewatch serve` with hostile image shapes and bodies.

Generated cases: images of sides 1 to 200,000 px and aspect ratios to 1:100,000, in every
format Pillow writes (real pixels up to a few megapixels; beyond that, headers that claim
the size over a few bytes of data, as image bombs do), plus truncated images, random bytes
and empty bodies. Each case goes to one upload route (round robin, a few clients at once so
that the analysis workers take batches). Counted: answers by status and route, 5xx, answers
slower than 5 s, worker deaths (the server's log), and the RSS of the server's whole process
tree (server, fork server, analysis workers), sampled from /proc every 50 ms.

    python benchmarks/bench_upload_fuzz.py --cases 600 --seconds 900
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import struct
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from _shared import create_key, machine_line, serve

SLOW_SECONDS = 5.0
MAX_REAL_PIXELS = 3_000_000
"""Real images are encoded up to this many pixels; larger shapes are sent as bombs."""
RSS_LIMIT = 2 * 1024**3
SPECIAL = [
    (65535, 1), (4000, 1), (1, 4000), (1000, 1), (128, 128000), (128000, 128), (200000, 1),
    (1, 200000), (200000, 2), (100000, 1), (1, 1), (2, 2), (20, 1), (21, 1), (6000, 300),
    (6000, 4000), (8000, 6000), (30000, 1500), (65535, 65535), (200000, 200000),
]  # fmt: skip


# --- cases --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Case:
    kind: str
    body: bytes


def writable_formats() -> list[str]:
    """Every format this Pillow can write an RGB image in (probed once)."""
    Image.init()
    found = []
    for name in sorted(Image.SAVE):
        try:
            encode(Image.new("RGB", (8, 8)), name)
        except (OSError, ValueError, KeyError, TypeError, struct.error):
            continue
        found.append(name)
    return found


def encode(image: Image.Image, pil_format: str) -> bytes:
    buffer = io.BytesIO()
    if pil_format in ("XBM", "MSP"):
        image = image.convert("1")
    elif pil_format in ("PALM",):
        image = image.convert("P")
    image.save(buffer, format=pil_format)
    return buffer.getvalue()


def random_shape(rng: random.Random) -> tuple[int, int]:
    """Sides log-uniform in 1..200,000, aspect ratios to 1:100,000."""
    long_side = round(10 ** rng.uniform(0, np.log10(200_000)))
    aspect = 10 ** rng.uniform(0, 5)
    short_side = max(1, round(long_side / aspect))
    return (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)


def real_image(rng: random.Random, size: tuple[int, int], pil_format: str) -> bytes | None:
    width, height = size
    noise = np.random.default_rng(rng.randrange(2**32)).integers(0, 256, (min(height, 64), 3))
    row = np.resize(noise.astype(np.uint8), (height, 1, 3))
    pixels = np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)))
    try:
        return encode(Image.fromarray(pixels), pil_format)
    except Exception:  # any encoder's refusal: the format cannot hold this shape
        return None


def claimed(pil_format: str, width: int, height: int) -> bytes:
    """A header claiming ``width`` x ``height`` over a few bytes of pixel data."""
    if pil_format == "GIF":
        return (
            b"GIF89a" + struct.pack("<HH", min(width, 65535), min(height, 65535)) + b"\x00\x00\x00"
            b",\x00\x00\x00\x00" + struct.pack("<HH", min(width, 65535), min(height, 65535))
            + b"\x00\x02\x02D\x01\x00;"
        )  # fmt: skip
    if pil_format == "BMP":
        info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
        return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + b"\x00" * 64

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def cases(rng: random.Random, count: int, formats: list[str]) -> Iterator[Case]:
    shapes = [*SPECIAL]
    for number in range(count):
        shape = shapes[number] if number < len(shapes) else random_shape(rng)
        roll = rng.random()
        if roll < 0.08:
            yield Case("random bytes", rng.randbytes(rng.randrange(0, 5000)))
        elif roll < 0.12:
            yield Case("empty", b"")
        elif shape[0] * shape[1] <= MAX_REAL_PIXELS and roll < 0.8:
            pil_format = rng.choice(formats)
            body = real_image(rng, shape, pil_format)
            if body is None:
                yield Case("bomb PNG", claimed("PNG", *shape))
                continue
            if rng.random() < 0.1:
                yield Case(f"truncated {pil_format}", body[: rng.randrange(1, max(2, len(body)))])
            else:
                yield Case(f"{pil_format} {_size_class(shape)}", body)
        else:
            pil_format = rng.choice(["PNG", "GIF", "BMP"])
            yield Case(f"bomb {pil_format}", claimed(pil_format, *shape))


def _size_class(shape: tuple[int, int]) -> str:
    ratio = max(shape) / min(shape)
    return "strip" if ratio > 20 else "photo"


# --- routes -------------------------------------------------------------------------------
Send = Callable[[httpx.Client, bytes, int], httpx.Response]


def _image(field: str, body: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [(field, ("fuzz", body, "application/octet-stream"))]


def _edge_batch(client: httpx.Client, body: bytes, number: int) -> httpx.Response:
    item = {"kind": "crop", "camera_id": "fuzz", "idempotency_key": f"fuzz-{number}", "image": 0}
    manifest = gzip.compress(json.dumps({"items": [item]}).encode())
    files = [("manifest_gz", ("m", manifest, "application/gzip")), *_image("files", body)]
    return client.post("/api/v1/edge/batch", files=files)


ROUTES: dict[str, Send] = {
    "recognize": lambda c, b, n: c.post("/api/v1/recognize", files=_image("image", b)),
    "faces": lambda c, b, n: c.post("/api/v1/people/1/faces", files=_image("images", b)),
    "detections": lambda c, b, n: c.post(
        "/api/v1/detections",
        files=_image("image", b),
        data={"camera_id": "fuzz", "idempotency_key": f"fuzz-d-{n}"},
    ),
    "search": lambda c, b, n: c.post("/api/v1/search", files=_image("image", b)),
    "edge batch": _edge_batch,
    "compat get-results": lambda c, b, n: c.post(
        "/face-recognition/get-results", files=_image("image", b)
    ),
    "compat store-results": lambda c, b, n: c.post(
        "/face-recognition/store-results",
        files=_image("image", b),
        data={"camera_id": "fuzz", "location_id": "here"},
    ),
    "compat dataset image": lambda c, b, n: c.post("/dataset/Fuzz/image", files=_image("image", b)),
}


def status_of(route: str, response: httpx.Response) -> int:
    """The answer's status; for the edge batch, the item's when the batch itself passed."""
    if route == "edge batch" and response.status_code == 200:
        status: int = response.json()["results"][0]["status"]
        return status
    return response.status_code


# --- the server's memory ------------------------------------------------------------------
def tree_rss(root: int) -> int:
    """RSS in bytes of ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[int(entry.name)] = int(line.split()[1]) * 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


@dataclass
class Sampler:
    pid: int
    peak: int = 0
    samples: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self.samples += 1
            self.stop.wait(0.05)


# --- the run ------------------------------------------------------------------------------
@dataclass
class Tally:
    by_status: Counter[int] = field(default_factory=Counter)
    by_route: dict[str, Counter[int]] = field(default_factory=dict)
    by_kind: dict[str, Counter[int]] = field(default_factory=dict)
    slow: list[tuple[str, str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    longest: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, route: str, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.by_status[status] += 1
            self.by_route.setdefault(route, Counter())[status] += 1
            self.by_kind.setdefault(kind.split()[0], Counter())[status] += 1
            self.longest = max(self.longest, seconds)
            if seconds > SLOW_SECONDS:
                self.slow.append((route, kind, seconds))


def prepare(base_url: str, key: str) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        client.post("/api/v1/people", json={"name": "Fuzz"}).raise_for_status()
        client.post("/dataset/Fuzz")


def plan(todo: list[Case]) -> list[tuple[Case, str]]:
    """The special shapes (the first cases) on every route; the others round robin."""
    routes = list(ROUTES)
    special = [(case, route) for case in todo[: len(SPECIAL)] for route in routes]
    rest = todo[len(SPECIAL) :]
    return special + [(case, routes[n % len(routes)]) for n, case in enumerate(rest)]


def fuzz(base_url: str, key: str, todo: list[tuple[Case, str]], args: argparse.Namespace) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + args.seconds
    headers = {"Authorization": f"Bearer {key}"}

    def one(number: int) -> None:
        if time.monotonic() > deadline:
            return
        case, route = todo[number]
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            started = time.monotonic()
            try:
                response = ROUTES[route](client, case.body, number)
                status = status_of(route, response)
            except httpx.HTTPError as exc:
                status = 0
                tally.errors.append(f"{route} {case.kind}: {type(exc).__name__}")
            tally.add(route, case.kind, status, time.monotonic() - started)

    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(one, range(len(todo))))
    return tally


def report(tally: Tally, sampler: Sampler, deaths: int, args: argparse.Namespace) -> str:
    total = sum(tally.by_status.values())
    server_errors = sum(n for status, n in tally.by_status.items() if status >= 500 or not status)
    lines = [
        f"{total} answers in {args.elapsed:.0f} s ({args.clients} clients, seed {args.seed}); "
        f"5xx or no answer: {server_errors}; slower than {SLOW_SECONDS:g} s: "
        f"{len(tally.slow)} (longest {tally.longest:.2f} s); worker deaths: {deaths}; "
        f"peak RSS of the server's process tree: {sampler.peak / 1024**2:.0f} MiB "
        f"({sampler.samples} samples)",
        "",
        "| route | " + " | ".join(str(s) for s in sorted(tally.by_status)) + " |",
        "|---|" + "---:|" * len(tally.by_status),
    ]
    for route, counts in tally.by_route.items():
        cells = " | ".join(str(counts.get(s, 0)) for s in sorted(tally.by_status))
        lines.append(f"| {route} | {cells} |")
    lines += ["", "| case | " + " | ".join(str(s) for s in sorted(tally.by_status)) + " |"]
    lines.append("|---|" + "---:|" * len(tally.by_status))
    for kind, counts in sorted(tally.by_kind.items()):
        cells = " | ".join(str(counts.get(s, 0)) for s in sorted(tally.by_status))
        lines.append(f"| {kind} | {cells} |")
    lines += ["", machine_line()]
    lines += [f"slow: {r} {k} {s:.1f} s" for r, k, s in tally.slow[:10]]
    lines += tally.errors[:10]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--cases",
        type=int,
        default=600,
        help="cases (600; the 20 special shapes go to every route)",
    )
    parser.add_argument("--seconds", type=float, default=900, help="stop sending after (900)")
    parser.add_argument("--clients", type=int, default=4, help="requests at once (4)")
    parser.add_argument("--seed", type=int, default=17)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    formats = writable_formats()
    todo = plan(list(cases(rng, args.cases, formats)))
    print(f"{len(todo)} requests; formats written: {', '.join(formats)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="facewatch-fuzz-") as folder:
        data_dir = Path(folder)
        env = {
            **os.environ,
            "FACEWATCH_DATA_DIR": str(data_dir),
            "FACEWATCH_COMPAT_CLOUD_API": "true",
            "FACEWATCH_RATE_LIMIT_RECOGNIZE_PER_MINUTE": "0",
            "FACEWATCH_RATE_LIMIT_INGEST_PER_MINUTE": "0",
            "FACEWATCH_RATE_LIMIT_SEARCH_PER_MINUTE": "0",
        }
        key = create_key(env, "admin", "--data-dir", str(data_dir))
        log = data_dir / "server.log"
        with serve(env, log, "--data-dir", str(data_dir)) as (base_url, pid):
            prepare(base_url, key)
            sampler = Sampler(pid)
            watcher = threading.Thread(target=sampler.run, daemon=True)
            watcher.start()
            started = time.monotonic()
            tally = fuzz(base_url, key, todo, args)
            args.elapsed = time.monotonic() - started
            sampler.stop.set()
            watcher.join()
        text = log.read_text(encoding="utf-8", errors="replace")
        deaths = text.count("died while idle") + text.count("died on a batch")
    print(report(tally, sampler, deaths, args))
    if sampler.peak > RSS_LIMIT:
        print(f"RSS over {RSS_LIMIT / 1024**3:.0f} GiB")


if __name__ == "__main__":
    main()
