"""Throughput with 1, 2 and 3 replicas behind one load balancer, and what scaling costs.

    python benchmarks/bench_replicas.py [--replicas 1 2 3] [--seconds 20] [--clients 6]
                                        [--workers 0] [--templates 10000 100000]

For each replica count: a fresh PostgreSQL database, N ``facewatch serve`` processes
(deploy/harness), nginx in front; five people enrolled; then ``--clients`` threads post
150 x 150 face crops (one face each, as an edge agent sends) to /api/v1/detections for
``--seconds``. Prints faces per second, latency percentiles, resident memory per replica,
and the database work per stored detection (pg_stat_database deltas). Then, in-process:
memory of the in-memory gallery and cost of the replicas' sync poll for larger galleries.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy" / "harness"))
from replicas import Cluster, cluster, postgres_database  # noqa: E402

from facewatch.store.db import Database  # noqa: E402

JOHNS = "dlib_faces/johns"


@dataclass
class Run:
    replicas: int
    faces_per_s: float
    p50_ms: float
    p95_ms: float
    errors: int
    rss_mb_per_replica: float
    db_transactions_per_detection: float
    db_rows_written_per_detection: float


def testdata() -> Path:
    return Path(os.environ.get("FACEWATCH_TESTDATA") or ROOT.parent / "shared" / "testdata")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (analysis workers), in MiB."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.is_file():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def db_stats(found: Cluster) -> tuple[int, int]:
    """(transactions committed, rows inserted + updated + deleted) so far in the database."""
    import psycopg
    from sqlalchemy import make_url

    url = make_url(found.database_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname="postgres") as c:
        c.execute("SELECT pg_stat_force_next_flush()")
        row = c.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted "
            "FROM pg_stat_database WHERE datname = %s",
            (url.database,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def enrol_everyone(found: Cluster, people: dict[str, list[Path]]) -> None:
    for name, photos in people.items():
        created = httpx.post(
            f"{found.url}/api/v1/people", json={"name": name}, headers=found.headers, timeout=60
        )
        created.raise_for_status()
        files = [("images", (p.name, p.read_bytes())) for p in photos[:3]]
        added = httpx.post(
            f"{found.url}/api/v1/people/{created.json()['id']}/faces",
            files=files,
            headers=found.headers,
            timeout=120,
        )
        added.raise_for_status()


def drive(
    found: Cluster, crops: list[Path], seconds: float, clients: int
) -> tuple[list[float], int, int]:
    """Post crops from ``clients`` threads for ``seconds``: latencies, faces, errors."""
    latencies: list[float] = []
    counts = {"faces": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    payloads = [(p.name, p.read_bytes()) for p in crops]

    def client(offset: int) -> None:
        with httpx.Client(base_url=found.url, headers=found.headers, timeout=120) as http:
            n = offset
            while time.monotonic() < deadline:
                name, data = payloads[n % len(payloads)]
                key = f"bench-{uuid.uuid4().hex}"
                started = time.monotonic()
                response = http.post(
                    "/api/v1/detections",
                    data={"camera_id": "bench", "idempotency_key": key},
                    files={"image": (name, data)},
                )
                with lock:
                    if response.status_code == 201:
                        latencies.append(time.monotonic() - started)
                        counts["faces"] += len(response.json()["detections"])
                    else:
                        counts["errors"] += 1
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, counts["faces"], counts["errors"]


def measure(replicas: int, args: argparse.Namespace, people: dict[str, list[Path]]) -> Run:
    crops = [p for photos in people.values() for p in photos[3:]]
    extra = {"FACEWATCH_ANALYSIS_WORKERS": str(args.workers)} if args.workers >= 0 else {}
    with cluster(replicas, blobs="dir", extra_env=extra) as found:
        enrol_everyone(found, people)
        drive(found, crops, 3, args.clients)  # warm: first requests, caches, connections
        before = db_stats(found)
        started = time.monotonic()
        latencies, faces, errors = drive(found, crops, args.seconds, args.clients)
        elapsed = time.monotonic() - started
        after = db_stats(found)
        memory = statistics.mean(rss_mb(r.process.pid) for r in found.replicas)
    stored = max(len(latencies), 1)
    ms = sorted(x * 1000 for x in latencies)
    return Run(
        replicas=replicas,
        faces_per_s=faces / elapsed,
        p50_ms=ms[len(ms) // 2] if ms else float("nan"),
        p95_ms=ms[int(len(ms) * 0.95)] if ms else float("nan"),
        errors=errors,
        rss_mb_per_replica=memory,
        db_transactions_per_detection=(after[0] - before[0]) / stored,
        db_rows_written_per_detection=(after[1] - before[1]) / stored,
    )


def gallery_costs(sizes: list[int]) -> list[tuple[int, float, float, float]]:
    """(templates, gallery MiB, fingerprint poll ms, full reconcile s) on PostgreSQL."""
    from facewatch.gallery.gallery import Gallery, TemplateEntry
    from facewatch.server.infra.sync import read_fingerprint, read_template_refs

    rows = []
    rng = np.random.default_rng(1)
    for size in sizes:
        vectors = rng.normal(size=(size, 128)).astype(np.float32)
        before = rss_mb(os.getpid())
        gallery = Gallery("bench", 128)
        gallery.add(TemplateEntry(i + 1, i // 5 + 1, f"p{i // 5}", vectors[i]) for i in range(size))
        memory = rss_mb(os.getpid()) - before  # hnswlib's C++ memory included
        with seeded_database(vectors, "bench") as db:
            started = time.perf_counter()
            for _ in range(20):
                read_fingerprint(db, "bench")
            poll_ms = (time.perf_counter() - started) / 20 * 1000
            started = time.perf_counter()
            gallery.sync(read_template_refs(db, "bench"), lambda ids: [])
            reconcile_s = time.perf_counter() - started
        rows.append((size, memory, poll_ms, reconcile_s))
    return rows


@contextlib.contextmanager
def seeded_database(vectors: np.ndarray, model: str) -> Iterator[Database]:
    """A migrated PostgreSQL database holding these templates, five per person."""
    with postgres_database() as url:
        db = Database(url)
        db.migrate()
        now = "2026-01-01T00:00:00+00:00"
        people = [(f"p{i}", "authorized", "", now, now) for i in range(len(vectors) // 5 + 1)]
        templates = [
            (i // 5 + 1, vector.tobytes(), model, 0.9, "[0, 0, 80, 80]", now)
            for i, vector in enumerate(vectors)
        ]
        with db.engine.begin() as connection:
            cursor = connection.connection.cursor()
            cursor.executemany(
                "INSERT INTO people (name, category, notes, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                people,
            )
            cursor.executemany(
                "INSERT INTO templates (person_id, embedding, model, quality, box, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                templates,
            )
        # As autovacuum leaves a live table: the count becomes an index-only scan.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE templates")
            connection.exec_driver_sql("VACUUM ANALYZE people")
        try:
            yield db
        finally:
            db.dispose()


def machine_line() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    load = os.getloadavg()
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores ({cpu}); "
        f"Python {platform.python_version()}; facewatch at {commit}; "
        f"load average at start {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}"
    )


def print_replica_table(args: argparse.Namespace, people: dict[str, list[Path]]) -> None:
    print(
        "| replicas | faces/s | p50 ms | p95 ms | errors | RSS MiB/replica "
        "| DB commits/detection | DB rows written/detection |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for count in args.replicas:
        run = measure(count, args, people)
        print(
            f"| {run.replicas} | {run.faces_per_s:.1f} | {run.p50_ms:.0f} | {run.p95_ms:.0f} "
            f"| {run.errors} | {run.rss_mb_per_replica:.0f} "
            f"| {run.db_transactions_per_detection:.1f} "
            f"| {run.db_rows_written_per_detection:.1f} |",
            flush=True,
        )


def print_gallery_table(sizes: list[int]) -> None:
    print("\n| templates | gallery MiB | sync poll ms | full reconcile s |")
    print("|---|---|---|---|")
    for size, memory, poll_ms, reconcile_s in gallery_costs(sizes):
        print(f"| {size} | {memory:.1f} | {poll_ms:.2f} | {reconcile_s:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=0, help="FACEWATCH_ANALYSIS_WORKERS")
    parser.add_argument("--templates", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args()
    print(machine_line())
    people = {p.name: sorted(p.iterdir()) for p in sorted((testdata() / JOHNS).iterdir())}
    if args.replicas:
        print_replica_table(args, people)
    if args.templates:
        print_gallery_table(args.templates)


if __name__ == "__main__":
    main()
