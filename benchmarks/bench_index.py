"""Gallery index at scale: build, memory, search latency and recall, snapshot load, enrolment.

Synthetic embeddings stand in for a million enrolled faces. By default they are drawn
from a Gaussian shaped like real dlib embeddings (mean and covariance of the LFW faces in
the evaluation cache, when ``facewatch eval`` has filled it; else an isotropic Gaussian
of the same total variance, which is harder for an approximate index). A probe of an
enrolled person is one of their templates plus noise at the typical same-person distance
(0.4); a stranger is a fresh draw.

Reported for the configured index (``--kind``, default the server's ``auto``):

* build time (templates added in batches of 100,000) and resident memory of the gallery;
* search latency of ``Gallery.nearest_people`` for one face, top 5 people, one thread:
  p50 / p99 over ``--queries`` probes;
* recall@1 and recall@5 of the nearest template against exact search (probes and
  strangers separately);
* snapshot save time, and the load time and memory of ``Gallery.load`` in a fresh process;
* a new enrolment at full size: time until the new template is found by a search;
* exact search latency at smaller sizes (``--exact-sizes``), to place the ANN threshold.

Run from the repository root:

    python benchmarks/bench_index.py --size 1000000
    python benchmarks/bench_index.py --size 100000 --exact-sizes 5000,10000,20000,50000,100000
"""

from __future__ import annotations

import os

# One core for every search, as the target says; set before numpy loads its BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from platformdirs import user_cache_dir  # noqa: E402

from _shared import machine_line  # noqa: E402
from facewatch.gallery.gallery import Gallery, TemplateEntry  # noqa: E402
from facewatch.gallery.index import (  # noqa: E402
    AdaptiveIndex,
    ExactIndex,
    HnswIndex,
    IndexConfig,
    create_index,
)

DIM = 128
SAME_PERSON_DISTANCE = 0.4
BATCH = 100_000
TEMPLATES_PER_PERSON = 4
MODEL = "synthetic"


@dataclass(frozen=True, slots=True)
class Shape:
    """Mean and a square root of the covariance of the synthetic embeddings."""

    mean: np.ndarray
    root: np.ndarray
    source: str

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal((n, DIM), dtype=np.float32)
        return (self.mean + z @ self.root.T).astype(np.float32)


def embedding_shape(isotropic: bool) -> Shape:
    """LFW-like (from the evaluation cache) unless asked for isotropic or no cache exists."""
    real = None if isotropic else _cached_embeddings()
    if real is None or real.shape[0] < 1000:
        scale = 0.05  # per-dimension standard deviation of real dlib embeddings
        return Shape(np.zeros(DIM, np.float32), np.eye(DIM, dtype=np.float32) * scale, "isotropic")
    covariance = np.cov(real.T) + np.eye(DIM) * 1e-6
    root = np.linalg.cholesky(covariance).astype(np.float32)
    return Shape(real.mean(axis=0).astype(np.float32), root, f"LFW-shaped ({len(real)} faces)")


def _cached_embeddings() -> np.ndarray | None:
    folder = Path(user_cache_dir("facewatch")) / "embeddings"
    files = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    if not files:
        return None
    with np.load(files[0], allow_pickle=False) as data:
        return np.asarray(data["embeddings"], dtype=np.float64)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build(size: int, shape: Shape, config: IndexConfig, seed: int) -> tuple[Gallery, float]:
    gallery = Gallery(MODEL, DIM, create_index(DIM, config))
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    for start in range(0, size, BATCH):
        count = min(BATCH, size - start)
        vectors = shape.draw(rng, count)
        gallery.add(
            TemplateEntry(tid, tid // TEMPLATES_PER_PERSON, f"p{tid // TEMPLATES_PER_PERSON}", v)
            for tid, v in zip(range(start, start + count), vectors, strict=True)
        )
        print(f"  built {start + count:,} templates", file=sys.stderr, flush=True)
    return gallery, time.perf_counter() - started


def queries(gallery: Gallery, shape: Shape, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(probes of enrolled people, strangers), ``n // 2`` each."""
    rng = np.random.default_rng(seed + 1)
    ids, vectors = gallery.index.items()
    picked = vectors[rng.choice(ids.shape[0], n // 2, replace=False)]
    noise = rng.standard_normal(picked.shape).astype(np.float32)
    noise *= SAME_PERSON_DISTANCE / np.sqrt(DIM)
    return picked + noise, shape.draw(rng, n // 2)


def set_ef(gallery: Gallery, ef: int) -> None:
    """Change the search width of the gallery's HNSW index, if it uses one."""
    index = gallery.index
    inner = index.inner if isinstance(index, AdaptiveIndex) else index
    if isinstance(inner, HnswIndex):
        inner.ef_search = ef


def latency_ms(gallery: Gallery, probes: np.ndarray) -> tuple[float, float, float]:
    """Wall-clock p50 and p99, and the p99 of CPU time (immune to other processes)."""
    wall, cpu = [], []
    for probe in probes:
        started, started_cpu = time.perf_counter(), time.thread_time()
        gallery.nearest_people(probe[None, :], 5)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return (
        float(np.percentile(wall, 50)),
        float(np.percentile(wall, 99)),
        float(np.percentile(cpu, 99)),
    )


def recall(gallery: Gallery, probes: np.ndarray) -> tuple[float, float]:
    """recall@1 and recall@5 of the index's nearest templates against exact search."""
    ids, vectors = gallery.index.items()
    exact = ExactIndex(DIM)
    exact.add(ids, vectors)
    _, truth = exact.search(probes, 5)
    _, found = gallery.index.search(probes, 5)
    at1 = float((found[:, 0] == truth[:, 0]).mean())
    at5 = float(np.mean([len(set(f) & set(t)) / 5 for f, t in zip(found, truth, strict=True)]))
    return at1, at5


def enrolment_s(gallery: Gallery, shape: Shape) -> float:
    """Seconds from adding one new template until a search returns it first."""
    vector = shape.draw(np.random.default_rng(99), 1)[0]
    new_id = 10**12
    started = time.perf_counter()
    gallery.add([TemplateEntry(new_id, new_id, "newcomer", vector)])
    [cands] = gallery.nearest_people(vector[None, :], 1)
    elapsed = time.perf_counter() - started
    if not cands or cands[0].name != "newcomer":
        raise SystemExit("the new enrolment was not found")
    return elapsed


def load_in_fresh_process(folder: Path, config: IndexConfig) -> dict[str, float]:
    script = (
        "import json,time,sys\n"
        "sys.path.insert(0, 'benchmarks')\n"
        "from bench_index import rss_mib\n"
        "from facewatch.gallery.gallery import Gallery\n"
        "from facewatch.gallery.index import IndexConfig\n"
        "before = rss_mib(); t = time.perf_counter()\n"
        f"g = Gallery.load(__import__('pathlib').Path({str(folder)!r}), 'synthetic', {DIM},"
        f" IndexConfig(kind={config.kind!r}, ann_threshold={config.ann_threshold},"
        f" hnsw_ef_search={config.hnsw_ef_search}))\n"
        "print(json.dumps({'load_s': time.perf_counter() - t, 'rss_mib': rss_mib(),"
        " 'rss_before_mib': before, 'templates': len(g)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def exact_latencies(sizes: list[int], shape: Shape) -> dict[int, tuple[float, float, float]]:
    found = {}
    for size in sizes:
        gallery, _ = build(size, shape, IndexConfig(kind="exact"), seed=size)
        probes, _ = queries(gallery, shape, 400, seed=size)
        found[size] = latency_ms(gallery, probes)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--kind", choices=["auto", "exact", "hnsw"], default="auto")
    parser.add_argument(
        "--ef-search",
        default=str(IndexConfig().hnsw_ef_search),
        help="comma-separated HNSW search widths to measure (the first is saved and loaded)",
    )
    parser.add_argument("--m", type=int, default=IndexConfig().hnsw_m)
    parser.add_argument("--ef-construction", type=int, default=IndexConfig().hnsw_ef_construction)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--isotropic", action="store_true", help="isotropic Gaussian embeddings")
    parser.add_argument("--exact-sizes", default="", help="comma-separated sizes for exact search")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = IndexConfig(
        kind=args.kind,
        hnsw_m=args.m,
        hnsw_ef_construction=args.ef_construction,
        hnsw_ef_search=int(args.ef_search.split(",")[0]),
    )
    shape = embedding_shape(args.isotropic)
    print(f"# bench_index: {args.size:,} templates, {shape.source}, {config}")
    print(f"machine: {machine_line()}; load average {os.getloadavg()[0]:.2f}")
    base = rss_mib()
    gallery, build_s = build(args.size, shape, config, args.seed)
    memory = rss_mib() - base
    probes, strangers = queries(gallery, shape, args.queries, args.seed)
    print(f"index in use: {gallery.index.kind}")
    print(f"build: {build_s:.1f} s; gallery memory: {memory:.0f} MiB")
    for ef in [int(e) for e in args.ef_search.split(",")]:
        set_ef(gallery, ef)
        p50, p99, cpu99 = latency_ms(gallery, np.concatenate([probes, strangers]))
        probe_recall, stranger_recall = recall(gallery, probes), recall(gallery, strangers)
        print(
            f"ef_search {ef}: search top-5 people, 1 thread: p50 {p50:.3f} ms, p99 {p99:.3f} ms"
            f" (CPU time p99 {cpu99:.3f} ms)"
        )
        print(f"  recall@1 / @5 vs exact, probes: {probe_recall[0]:.4f} / {probe_recall[1]:.4f}")
        print(f"  recall@1 / @5 vs exact, strangers: {stranger_recall[0]:.4f} / ", end="")
        print(f"{stranger_recall[1]:.4f}")
    set_ef(gallery, config.hnsw_ef_search)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        folder = Path(tmp) / "gallery"
        started = time.perf_counter()
        gallery.save(folder)
        save_s = time.perf_counter() - started
        loaded = load_in_fresh_process(folder, config)
    enrol_s = enrolment_s(gallery, shape)
    print(f"snapshot save: {save_s:.1f} s; load in a fresh process: {loaded['load_s']:.1f} s, ")
    print(f"  resident memory after load: {loaded['rss_mib']:.0f} MiB")
    print(f"new enrolment searchable after: {enrol_s * 1000:.1f} ms")
    sizes = [int(s) for s in args.exact_sizes.split(",") if s]
    for size, (e50, e99, ecpu) in exact_latencies(sizes, shape).items():
        print(f"exact search at {size:,}: p50 {e50:.3f} ms, p99 {e99:.3f} ms (CPU {ecpu:.3f} ms)")


if __name__ == "__main__":
    main()
