"""Gallery index at scale: build, memory, search latency and recall, snapshot load, enrolment.

Synthetic embeddings stand in for a million enrolled faces, ``TEMPLATES_PER_PERSON`` per
person. A person is a centre drawn from a Gaussian shaped like the real embeddings of the
chosen model (mean and covariance of the LFW faces in the evaluation cache, when
``facewatch eval`` has filled it; else an isotropic Gaussian of the same scale, which is
harder for an approximate index); their templates, and the probes of enrolled people, are
the centre plus noise that puts two photos of one person at the model's typical
same-person distance (dlib 128-d: 0.4; EdgeFace 512-d: 0.86, the median over LFW pairs,
on L2-normalised vectors). A stranger is a fresh centre.

Each index named in ``--kinds`` is built in a fresh process from the same vectors, so the
resident memory of one does not hide in the other's, and reports:

* build time (templates added in batches of 100,000) and resident memory of the gallery
  (RSS growth; anonymous and file-backed pages apart);
* search latency of ``Gallery.nearest_people`` for one face, top 5 people, one thread:
  p50 / p99 over ``--queries`` probes, per ``--ef-search`` value;
* recall@1 and recall@5 of the nearest templates against exact search (ground truth
  computed once, by brute force, before any index is built), probes and strangers apart;
* for hnsw_sq8, the same searches with its float32 vectors evicted from the page cache
  before each one (every re-ranked row read from the disk);
* snapshot save time, and the load time and memory of ``Gallery.load`` in a fresh process;
* a new enrolment at full size: time until the new template is found by a search;
* removing 1% of the templates: time, and (hnsw_sq8) the rebuild without them;
* exact search latency at smaller sizes (``--exact-sizes``), to place the ANN threshold.

Run from the repository root:

    python benchmarks/bench_index.py --dim 512 --size 1000000 --kinds hnsw,hnsw_sq8
    python benchmarks/bench_index.py --dim 128 --size 100000 --exact-sizes 5000,20000,100000
"""

from __future__ import annotations

import os

# One core for every search, as the target says; set before numpy loads its BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# faiss's build threads wait for each other; spinning while they wait starves a shared machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from platformdirs import user_cache_dir  # noqa: E402

from facewatch.gallery.gallery import Gallery, TemplateEntry  # noqa: E402
from facewatch.gallery.index import (  # noqa: E402
    AdaptiveIndex,
    HnswIndex,
    HnswSqIndex,
    IndexConfig,
    VectorIndex,
    create_index,
)

BATCH = 100_000
TEMPLATES_PER_PERSON = 4
MODEL = "synthetic"
QUERY_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Profile:
    """What the embeddings of one model look like."""

    same_person: float
    unit: bool
    cache_prefix: str


PROFILES = {
    128: Profile(same_person=0.4, unit=False, cache_prefix="dlib"),
    512: Profile(same_person=0.86, unit=True, cache_prefix="edgeface"),
}


@dataclass(frozen=True, slots=True)
class Shape:
    """The synthetic embeddings of one model: centres' mean and covariance root, noise."""

    dim: int
    mean: np.ndarray
    root: np.ndarray
    unit: bool
    noise: float
    source: str

    def centres(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal((n, self.dim), dtype=np.float32)
        return self._finish(self.mean + z @ self.root.T)

    def photos(self, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
        """One photo of each person: the centre plus same-person noise."""
        noise = rng.standard_normal(centres.shape, dtype=np.float32) * self.noise
        return self._finish(centres + noise)

    def _finish(self, vectors: np.ndarray) -> np.ndarray:
        vectors = vectors.astype(np.float32)
        if self.unit:
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors


def embedding_shape(dim: int, isotropic: bool, source: Path | None = None) -> Shape:
    """LFW-like (from ``source`` or the evaluation cache) unless asked for isotropic or no
    cache exists."""
    profile = PROFILES[dim]
    # Per-dimension noise putting two photos of a person at the same-person distance
    # (on the unit sphere the renormalisation shrinks it: d^2 = 2 r^2 / (1 + r^2)).
    d2 = profile.same_person**2
    radius = np.sqrt(d2 / (2 - d2)) if profile.unit else profile.same_person / np.sqrt(2)
    noise = float(radius / np.sqrt(dim))
    real = None if isotropic else _cached_embeddings(dim, profile.cache_prefix, source)
    if real is None or real.shape[0] < 1000:
        scale = 1 / np.sqrt(dim) if profile.unit else 0.05  # dlib: per-dimension std 0.05
        eye = np.eye(dim, dtype=np.float32) * scale
        return Shape(dim, np.zeros(dim, np.float32), eye, profile.unit, noise, "isotropic")
    covariance = np.cov(real.T) + np.eye(dim) * 1e-6
    root = np.linalg.cholesky(covariance).astype(np.float32)
    source = f"LFW-shaped ({len(real)} {profile.cache_prefix} faces)"
    return Shape(dim, real.mean(axis=0).astype(np.float32), root, profile.unit, noise, source)


def _cached_embeddings(dim: int, prefix: str, source: Path | None) -> np.ndarray | None:
    folder = Path(user_cache_dir("facewatch")) / "embeddings"
    paths = [source] if source else sorted(folder.glob(f"{prefix}*.npz"))
    for path in paths if source or folder.is_dir() else []:
        with np.load(path, allow_pickle=False) as data:
            embeddings = np.asarray(data["embeddings"], dtype=np.float64)
        if embeddings.ndim == 2 and embeddings.shape[1] == dim:
            return embeddings
    return None


# --- the synthetic gallery: batch b holds templates b*BATCH.. of people b*BATCH/4.. ---------
def batch_centres(shape: Shape, seed: int, b: int) -> np.ndarray:
    return shape.centres(np.random.default_rng([seed, b, 0]), BATCH // TEMPLATES_PER_PERSON)


def batch_templates(shape: Shape, seed: int, b: int, count: int) -> np.ndarray:
    owners = np.repeat(batch_centres(shape, seed, b), TEMPLATES_PER_PERSON, axis=0)[:count]
    return shape.photos(np.random.default_rng([seed, b, 1]), owners)


def batches(size: int) -> list[tuple[int, int, int]]:
    """(batch number, first template id, count) covering ``size`` templates."""
    return [(b, start, min(BATCH, size - start)) for b, start in enumerate(range(0, size, BATCH))]


def make_queries(shape: Shape, size: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(probes: a new photo of ``n // 2`` enrolled people, ``n // 2`` strangers)."""
    rng = np.random.default_rng([seed, 10**6])
    people = np.sort(rng.choice(size // TEMPLATES_PER_PERSON, n // 2, replace=False))
    per_batch = BATCH // TEMPLATES_PER_PERSON
    centres = np.concatenate(
        [
            batch_centres(shape, seed, int(b))[people[people // per_batch == b] % per_batch]
            for b in np.unique(people // per_batch)
        ]
    )
    return shape.photos(rng, centres), shape.centres(rng, n // 2)


def ground_truth(
    shape: Shape, size: int, queries: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The 5 nearest templates of each query (distances, ids), by brute force over batches."""
    best_d = np.full((queries.shape[0], 5), np.inf, dtype=np.float32)
    best_i = np.full((queries.shape[0], 5), -1, dtype=np.int64)
    q_sq = np.einsum("ij,ij->i", queries, queries)
    for b, start, count in batches(size):
        vectors = batch_templates(shape, seed, b, count)
        v_sq = np.einsum("ij,ij->i", vectors, vectors)
        for lo in range(0, queries.shape[0], QUERY_CHUNK):
            q = queries[lo : lo + QUERY_CHUNK]
            squared = q_sq[lo : lo + QUERY_CHUNK, None] + v_sq[None, :] - 2 * (q @ vectors.T)
            part = np.argpartition(squared, 5, axis=1)[:, :5]
            exact = np.linalg.norm(q[:, None, :] - vectors[part], axis=2)
            merged_d = np.concatenate([best_d[lo : lo + len(q)], exact], axis=1)
            merged_i = np.concatenate([best_i[lo : lo + len(q)], part + start], axis=1)
            order = np.argsort(merged_d, axis=1, kind="stable")[:, :5]
            best_d[lo : lo + len(q)] = np.take_along_axis(merged_d, order, axis=1)
            best_i[lo : lo + len(q)] = np.take_along_axis(merged_i, order, axis=1)
        print(f"  ground truth: {start + count:,} templates", file=sys.stderr, flush=True)
    return best_d, best_i


# --- measurements inside one worker process ----------------------------------------------
def memory_mib() -> dict[str, float]:
    """Resident memory of this process: total, anonymous, file-backed (MiB)."""
    fields = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(maxsplit=1)[0] if line else ""
        if key in fields:
            found[fields[key]] = int(line.split()[1]) / 1024
    return found


def build(size: int, shape: Shape, config: IndexConfig, seed: int) -> tuple[Gallery, float]:
    gallery = Gallery(MODEL, shape.dim, create_index(shape.dim, config))
    started = time.perf_counter()
    for b, start, count in batches(size):
        vectors = batch_templates(shape, seed, b, count)
        gallery.add(
            TemplateEntry(tid, tid // TEMPLATES_PER_PERSON, f"p{tid // TEMPLATES_PER_PERSON}", v)
            for tid, v in zip(range(start, start + count), vectors, strict=True)
        )
        del vectors
        print(f"  {config.kind}: built {start + count:,} templates", file=sys.stderr, flush=True)
    return gallery, time.perf_counter() - started


def inner_index(gallery: Gallery) -> VectorIndex:
    index = gallery.index
    return index.inner if isinstance(index, AdaptiveIndex) else index


def set_ef(gallery: Gallery, ef: int) -> None:
    """Change the search width of the gallery's graph index, if it uses one."""
    inner = inner_index(gallery)
    if isinstance(inner, HnswIndex | HnswSqIndex):
        inner.ef_search = ef


def latency_ms(
    gallery: Gallery, probes: np.ndarray, cold: bool = False
) -> tuple[float, float, float]:
    """Wall-clock p50 and p99, and the p99 of CPU time (immune to other processes)."""
    inner = inner_index(gallery)
    wall, cpu = [], []
    for probe in probes:
        if cold and isinstance(inner, HnswSqIndex):
            inner.drop_cache()
        started, started_cpu = time.perf_counter(), time.thread_time()
        gallery.nearest_people(probe[None, :], 5)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return (
        float(np.percentile(wall, 50)),
        float(np.percentile(wall, 99)),
        float(np.percentile(cpu, 99)),
    )


def recall(gallery: Gallery, queries: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """recall@1 and recall@5 of the index's nearest templates against exact search."""
    _, found = gallery.index.search(queries, 5)
    at1 = float((found[:, 0] == truth[:, 0]).mean())
    at5 = float(np.mean([len(set(f) & set(t)) / 5 for f, t in zip(found, truth, strict=True)]))
    return at1, at5


def enrolment_s(gallery: Gallery, shape: Shape) -> float:
    """Seconds from adding one new template until a search returns it first."""
    vector = shape.centres(np.random.default_rng(99), 1)[0]
    new_id = 10**12
    started = time.perf_counter()
    gallery.add([TemplateEntry(new_id, new_id, "newcomer", vector)])
    [cands] = gallery.nearest_people(vector[None, :], 1)
    elapsed = time.perf_counter() - started
    if not cands or cands[0].name != "newcomer":
        raise SystemExit("the new enrolment was not found")
    return elapsed


def removal(
    gallery: Gallery, size: int, probes: np.ndarray, truth: np.ndarray, rebuild: bool
) -> dict[str, Any]:
    """Remove 1% of the templates (every 100th), then search; hnsw_sq8 may also rebuild."""
    doomed = np.arange(0, size, 100)
    started = time.perf_counter()
    gallery.remove_templates(doomed.tolist())
    result: dict[str, Any] = {"remove_s": time.perf_counter() - started}
    keep = ~np.isin(truth[:, 0], doomed)
    _, found = gallery.index.search(probes[keep], 1)
    result["removed_found"] = int(np.isin(gallery.index.search(probes, 5)[1], doomed).sum())
    result["recall1_after"] = float((found[:, 0] == truth[keep, 0]).mean())
    inner = inner_index(gallery)
    if rebuild and isinstance(inner, HnswSqIndex):
        started = time.perf_counter()
        inner.compact()
        result["rebuild_s"] = time.perf_counter() - started
        _, found = gallery.index.search(probes[keep], 1)
        result["recall1_rebuilt"] = float((found[:, 0] == truth[keep, 0]).mean())
    return result


def load_in_fresh_process(folder: Path, config: IndexConfig, dim: int) -> dict[str, float]:
    fields = {k: v for k, v in asdict(config).items() if k != "vector_dir"}
    script = (
        "import json,time,sys,pathlib\n"
        "sys.path.insert(0, 'benchmarks')\n"
        "from bench_index import memory_mib\n"
        "from facewatch.gallery.gallery import Gallery\n"
        "from facewatch.gallery.index import IndexConfig\n"
        "before = memory_mib()['rss']; t = time.perf_counter()\n"
        f"g = Gallery.load(pathlib.Path({str(folder)!r}), {MODEL!r}, {dim},"
        f" IndexConfig(**{fields!r}))\n"
        "print(json.dumps({'load_s': time.perf_counter() - t, 'rss_mib': memory_mib()['rss'],"
        " 'rss_before_mib': before, 'templates': len(g)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """Build one index and measure it (runs in a fresh process)."""
    import faiss

    faiss.omp_set_num_threads(job["build_threads"])  # the faiss graph's build threads
    data = np.load(job["queries"])
    shape = Shape(
        job["dim"], data["mean"], data["root"], data["unit"].item(), data["noise"].item(), ""
    )
    config = IndexConfig(**job["config"])
    probes, strangers = data["probes"], data["strangers"]
    base = memory_mib()
    gallery, build_s = build(job["size"], shape, config, job["seed"])
    built = memory_mib()
    result: dict[str, Any] = {
        "kind": config.kind,
        "in_use": gallery.index.kind,
        "build_s": build_s,
        "memory_mib": {k: built[k] - base[k] for k in built},
    }
    faiss.omp_set_num_threads(1)
    result["per_ef"] = []
    for ef in job["ef_search"]:
        set_ef(gallery, ef)
        row: dict[str, Any] = {"ef": ef}
        row["p50"], row["p99"], row["cpu99"] = latency_ms(
            gallery, np.concatenate([probes, strangers])
        )
        row["probes"] = recall(gallery, probes, data["probe_truth"])
        row["strangers"] = recall(gallery, strangers, data["stranger_truth"])
        if isinstance(inner_index(gallery), HnswSqIndex):
            row["cold"] = latency_ms(gallery, probes[: job["cold_queries"]], cold=True)
        result["per_ef"].append(row)
        print(f"  {config.kind}: ef {ef} {row}", file=sys.stderr, flush=True)
    set_ef(gallery, job["ef_search"][0])
    result["memory_after_search_mib"] = {k: v - base[k] for k, v in memory_mib().items()}
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        folder = Path(tmp) / "gallery"
        started = time.perf_counter()
        gallery.save(folder)
        result["save_s"] = time.perf_counter() - started
        result["snapshot_mib"] = sum(p.stat().st_size for p in folder.rglob("*")) / 2**20
        result["load"] = load_in_fresh_process(folder, config, shape.dim)
    result["enrol_ms"] = enrolment_s(gallery, shape) * 1000
    result["removal"] = removal(gallery, job["size"], probes, data["probe_truth"], job["rebuild"])
    return result


# --- the parent: data, ground truth, one worker per index, the report ---------------------
def exact_latencies(sizes: list[int], shape: Shape) -> dict[int, tuple[float, float, float]]:
    found = {}
    for size in sizes:
        gallery, _ = build(size, shape, IndexConfig(kind="exact"), seed=size)
        probes, _ = make_queries(shape, size, 400, seed=size)
        found[size] = latency_ms(gallery, probes)
    return found


def run_worker(job: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def report(result: dict[str, Any]) -> None:
    mem, after = result["memory_mib"], result["memory_after_search_mib"]
    print(f"\n## {result['kind']} (in use: {result['in_use']})")
    print(
        f"build {result['build_s']:.0f} s; gallery memory after the build {mem['rss']:.0f} MiB"
        f" (anonymous {mem['anon']:.0f}, file-backed {mem['file']:.0f}); after the searches"
        f" {after['rss']:.0f} MiB (anonymous {after['anon']:.0f}, file {after['file']:.0f})"
    )
    print(
        "\n| ef_search | p50 ms | p99 ms | CPU p99 ms | recall@1 probes | recall@1 strangers"
        " | recall@5 probes | cold p50 / p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in result["per_ef"]:
        cold = row.get("cold")
        cold_text = f"{cold[0]:.3f} / {cold[1]:.3f}" if cold else "-"
        print(
            f"| {row['ef']} | {row['p50']:.3f} | {row['p99']:.3f} | {row['cpu99']:.3f} |"
            f" {row['probes'][0]:.4f} | {row['strangers'][0]:.4f} | {row['probes'][1]:.4f} |"
            f" {cold_text} |"
        )
    load, removed = result["load"], result["removal"]
    print(
        f"\nsnapshot {result['snapshot_mib']:.0f} MiB, saved in {result['save_s']:.1f} s; loaded"
        f" in a fresh process in {load['load_s']:.1f} s, resident {load['rss_mib']:.0f} MiB"
        f" ({load['rss_before_mib']:.0f} before); new enrolment searchable after"
        f" {result['enrol_ms']:.1f} ms"
    )
    print(
        f"removing 1% ({removed['remove_s']:.2f} s): removed templates found"
        f" {removed['removed_found']}, recall@1 of probes {removed['recall1_after']:.4f}"
        + (
            f"; rebuilt in {removed['rebuild_s']:.0f} s, recall@1 {removed['recall1_rebuilt']:.4f}"
            if "rebuild_s" in removed
            else ""
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, choices=sorted(PROFILES), default=512)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--kinds", default="hnsw,hnsw_sq8", help="indexes, comma-separated")
    parser.add_argument(
        "--ef-search",
        default="64,128,256",
        help="comma-separated HNSW search widths to measure (the first is saved and loaded)",
    )
    parser.add_argument("--m", type=int, default=IndexConfig().hnsw_m)
    parser.add_argument("--ef-construction", type=int, help="default: IndexConfig's for each kind")
    parser.add_argument("--rerank", type=int, default=IndexConfig().sq_rerank)
    parser.add_argument("--build-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--cold-queries", type=int, default=200)
    parser.add_argument("--isotropic", action="store_true", help="isotropic Gaussian embeddings")
    parser.add_argument(
        "--embeddings",
        type=Path,
        help="an evaluation-cache .npz to shape the vectors (a copy: the cache grows as eval runs)",
    )
    parser.add_argument("--exact-sizes", default="", help="comma-separated sizes for exact search")
    parser.add_argument("--rebuild", action="store_true", help="time hnsw_sq8's rebuild too")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    from _shared import machine_line

    shape = embedding_shape(args.dim, args.isotropic, args.embeddings)
    print(f"# bench_index: {args.size:,} templates of {args.dim} dimensions, {shape.source}")
    print(f"machine: {machine_line()}; load average {os.getloadavg()[0]:.2f}")
    probes, strangers = make_queries(shape, args.size, args.queries, args.seed)
    nearest, truth = ground_truth(shape, args.size, np.concatenate([probes, strangers]), args.seed)
    half = probes.shape[0]
    print(
        f"distance to the nearest template, median: probes {np.median(nearest[:half, 0]):.3f},"
        f" strangers {np.median(nearest[half:, 0]):.3f}"
    )
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        queries = Path(tmp) / "queries.npz"
        np.savez(
            queries,
            probes=probes,
            strangers=strangers,
            probe_truth=truth[:half],
            stranger_truth=truth[half:],
            # The shape too: the evaluation cache it comes from may grow meanwhile.
            mean=shape.mean,
            root=shape.root,
            unit=shape.unit,
            noise=shape.noise,
        )
        for kind in args.kinds.split(","):
            first_ef = int(args.ef_search.split(",")[0])
            build_width = {}
            if args.ef_construction:
                build_width = {"hnsw_ef_construction": args.ef_construction}
            config = IndexConfig(
                kind=kind,
                hnsw_m=args.m,
                hnsw_ef_search=first_ef,
                sq_ef_search=first_ef,
                sq_rerank=args.rerank,
                **build_width,  # type: ignore[arg-type]
            )
            job = {
                "dim": args.dim,
                "size": args.size,
                "seed": args.seed,
                "config": {k: v for k, v in asdict(config).items() if k != "vector_dir"},
                "queries": str(queries),
                "ef_search": [int(e) for e in args.ef_search.split(",")],
                "cold_queries": args.cold_queries,
                "build_threads": args.build_threads,
                "rebuild": args.rebuild,
            }
            print(f"\n{config}, load average {os.getloadavg()[0]:.2f}", flush=True)
            report(run_worker(job))
    sizes = [int(s) for s in args.exact_sizes.split(",") if s]
    for size, (e50, e99, ecpu) in exact_latencies(sizes, shape).items():
        print(f"exact search at {size:,}: p50 {e50:.3f} ms, p99 {e99:.3f} ms (CPU {ecpu:.3f} ms)")


if __name__ == "__main__":
    main()
