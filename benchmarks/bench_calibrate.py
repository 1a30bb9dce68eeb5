"""Calibrate embedders' recognition defaults on LFW DevTrain, models side by side in one run.

For every embedder asked for (default: edgeface and dlib), through Facewatch's own pipeline
(HOG, 5-point landmarks, the model's alignment; embeddings cached with ``facewatch eval``'s
cache, so a second run takes seconds):

* **Protocol A** (the issue's; ``facewatch eval identify --lfw``): people with at least 3
  photos enrolled with their first photo and probed with the next two; as many one-photo
  people as probes are the strangers. Scores are the server's: the runner-up margin rule
  of ``gallery/matching.py`` over the gallery's candidates.
* **Margin**: (weight, cap) pairs compared by DIR at 1% of strangers named (known probes
  named right) on the whole set and on each half of the people (and strangers); the rule
  whose worse half is best is chosen (then the whole set, then the smaller penalty), and
  each half's best is checked on the other half, so the gain is not a fit to the test set.
* **The curve** with the chosen margin: known probes named right, named wrong, and
  strangers named, over single thresholds (match = unknown = t).
* **Match threshold**: the loosest naming at most ``--far`` of strangers less a safety
  share (``--safety``: default 0.75% of strangers for a 1% target), rounded down to
  ``--step``; checked on both halves. **Unknown threshold**: the loosest below which at
  most ``--uncertain-far`` of strangers score (so most strangers are plainly unknown while
  known people just past the match threshold are reported uncertain, not dropped).
* **Strangers' clustering threshold**: every LFW DevTrain photo's centre face, re-clustered
  (``gallery.clustering.cluster``, the scheduled job) and joined one at a time in a random order
  (the ingest path: nearest running-mean centroid within the threshold) over thresholds:
  purity (no stranger mixes two people) against inverse purity (nobody split); among the
  thresholds where both paths keep purity at least ``--purity`` (0.96, what dlib's 0.45
  gives, docs/unknowns.md) the one with the best sum of the four is chosen (dlib: 0.45
  again), which keeps off the cliff where strangers start to merge.
* **Verification**: pairsDevTrain.txt, 10 folds (``facewatch eval verify``).
* The decision at the model's current defaults (its ``ModelSpec``) and at the calibrated ones.

Embedder names are those of FACEWATCH_EMBEDDER, plus ``edgeface_float`` (the float32
EdgeFace-XS of ../shared/models, for int8 against float). Detection is shared between the
embedders of one run (each photo is detected once).

Run from the repository root:

    python benchmarks/bench_calibrate.py                      # edgeface and dlib
    python benchmarks/bench_calibrate.py --embedder edgeface --embedder edgeface_float
    python benchmarks/bench_calibrate.py --no-clustering --json benchmarks/out/calibrate.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from _shared import REPO_ROOT, machine, machine_line, testdata_dir
from bench_unknown_clustering import incremental_over_orders
from facewatch.config import Settings
from facewatch.evaluation.cli import default_cache_dir
from facewatch.evaluation.embeddings import EmbeddingCache, ImageFaces, enrolment_cache
from facewatch.evaluation.identification import (
    ScoredProbes,
    dir_at_threshold,
    far_at_threshold,
    score_probes,
    threshold_at_far,
)
from facewatch.evaluation.protocol import IdentificationSet, lfw_protocol
from facewatch.evaluation.runs import (
    Candidates,
    Embedder,
    at_defaults,
    candidates_for,
    run_verification,
)
from facewatch.evaluation.runs import enrolment_photos as gallery_photos
from facewatch.evaluation.verification import read_pairs
from facewatch.gallery.clustering import cluster, score
from facewatch.gallery.matching import Thresholds, decision_score
from facewatch.types import DetectedFace, RGBImage
from facewatch.vision.detectors.base import FaceDetector
from facewatch.vision.embedders.base import ModelSpec
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

FLOAT_EDGEFACE = "edgeface_float"
SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"
FARS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1)
WEIGHTS = (0.0, 0.5, 1.0, 2.0)
CAPS = (0.025, 0.05, 0.1, 0.15, 0.2)
CLUSTER_STEPS = 9
err = Console(stderr=True)


# --- the pipelines -----------------------------------------------------------------------
class SharedDetections:
    """Each image detected once for every embedder of the run (same detector, same faces)."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, bool], list[DetectedFace]] = {}

    def share(self, detector: FaceDetector) -> None:
        """Make ``detector`` answer from (and fill) this run's detections."""
        original = detector.detect

        def detect(image: RGBImage, *, native_scale: bool = False) -> list[DetectedFace]:
            digest = hashlib.blake2b(image.tobytes(), digest_size=16)
            digest.update(repr(image.shape).encode())
            key = (digest.hexdigest(), native_scale)
            if key not in self._found:
                self._found[key] = original(image, native_scale=native_scale)
            return list(self._found[key])

        detector.detect = detect  # type: ignore[method-assign]


def analyzer_for(name: str, shared: SharedDetections) -> FaceAnalyzer:
    """The pipeline of embedder ``name`` (``edgeface_float``: EdgeFace-XS in float32)."""
    if name == FLOAT_EDGEFACE:
        from facewatch.vision.embedders.edgeface import EdgeFaceFloatEmbedder

        base = create_analyzer(Settings(embedder="edgeface", embedder_threads=1))
        embedder = EdgeFaceFloatEmbedder(SHARED_MODELS / "edgeface_xs.onnx", threads=1)
        analyzer = FaceAnalyzer(base.detector, base.landmarker, embedder)
    else:
        analyzer = create_analyzer(Settings(embedder=name, embedder_threads=1))
    shared.share(analyzer.detector)
    return analyzer


class _Bar:
    def __init__(self, progress: Progress, what: str) -> None:
        self._progress = progress
        self._task = progress.add_task(what, total=None)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total, completed=0)

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)


def pipeline(analyzer: FaceAnalyzer, settings: Settings) -> Embedder:
    folder = default_cache_dir()
    return Embedder(
        analyzer,
        EmbeddingCache.for_analyzer(folder, analyzer),
        settings.max_image_pixels,
        enrolment_cache(folder, analyzer, settings.enrolment_jitter),
    )


def embed(embedder: Embedder, paths: Sequence[Path], what: str) -> dict[Path, ImageFaces]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True) as progress:
        return embedder.faces(paths, _Bar(progress, what))


# --- open set ------------------------------------------------------------------------------
def scored(found: Candidates, rule: Thresholds) -> ScoredProbes:
    return score_probes(found.known, found.strangers, lambda c: decision_score(c, rule))


def rule_of(weight: float, cap: float) -> Thresholds:
    """A margin rule (the thresholds do not matter for scoring)."""
    return Thresholds(1.0, 1.0, margin_weight=weight, margin_cap=cap)


def halves(found: Candidates) -> tuple[Candidates, Candidates]:
    """People (and strangers) split in two, alternating in name order."""
    names = sorted({name for name, _ in found.known})
    first = set(names[0::2])

    def part(keep_first: bool) -> Candidates:
        known = [(n, c) for n, c in found.known if (n in first) == keep_first]
        strangers = [c for i, c in enumerate(found.strangers) if (i % 2 == 0) == keep_first]
        return Candidates(found.gallery, found.enrolled, known, strangers)

    return part(True), part(False)


@dataclass(slots=True)
class MarginChoice:
    """DIR at 1% of every margin rule; the chosen one; the check across halves."""

    table: list[dict[str, float]] = field(default_factory=list)
    weight: float = 0.0
    cap: float = 0.0
    checks: list[str] = field(default_factory=list)


def sturdiest(row: dict[str, float]) -> tuple[float, ...]:
    """Order of preference of margin rules: the better worse half, then the whole set, then
    the smaller largest penalty (weight x cap), then the smaller weight."""
    worse = min(row["dir_a"], row["dir_b"])
    return (round(worse, 4), round(row["dir"], 4), -row["weight"] * row["cap"], -row["weight"])


def choose_margin(found: Candidates, far: float) -> MarginChoice:
    """The (weight, cap) naming most at ``far``; also chosen on one half, checked on the other."""
    rules = [(0.0, 0.0)] + [(w, c) for w in WEIGHTS[1:] for c in CAPS]
    parts = halves(found)
    choice = MarginChoice()
    for w, c in rules:
        row = {"weight": w, "cap": c, "dir": scored(found, rule_of(w, c)).dir_at_far(far)}
        row["dir_a"], row["dir_b"] = (scored(p, rule_of(w, c)).dir_at_far(far) for p in parts)
        choice.table.append(row)
    best = max(choice.table, key=sturdiest)
    choice.weight, choice.cap = best["weight"], best["cap"]
    for label, key, other in (("A->B", "dir_a", "dir_b"), ("B->A", "dir_b", "dir_a")):
        picked = max(choice.table, key=lambda r: (round(r[key], 4), -r["weight"], -r["cap"]))
        plain = choice.table[0][other]
        choice.checks.append(
            f"chosen on half {label[0]}: weight {picked['weight']:g}, cap {picked['cap']:g}; "
            f"on half {label[-1]} DIR@{100 * far:g}% {plain:.3f} (distance alone) -> "
            f"{picked[other]:.3f}"
        )
    return choice


CURVE_STEPS = (0.01, 0.02, 0.025, 0.05, 0.1)
CURVE_ROWS = 16


def curve_rows(probes: ScoredProbes) -> list[dict[str, float]]:
    """Known probes named right and wrong, strangers named, over single thresholds from the
    one naming 0.1% of strangers to the one naming 10%, in at most ``CURVE_ROWS`` steps."""
    first = threshold_at_far(probes.unknown_scores, 0.001)
    last = threshold_at_far(probes.unknown_scores, 0.1)
    step = next((s for s in CURVE_STEPS if (last - first) / s < CURVE_ROWS), CURVE_STEPS[-1])
    low, high = math.floor(first / step) * step, math.ceil(last / step) * step
    wrong = ~probes.known_right & np.isfinite(probes.known_scores)
    rows = []
    for t in np.arange(low, high + step / 2, step):
        t = round(float(t), 4)
        rows.append(
            {
                "threshold": t,
                "known_right": dir_at_threshold(probes, t),
                "known_wrong": float((wrong & (probes.known_scores <= t)).mean()),
                "strangers_named": far_at_threshold(probes, t),
                "strangers_named_count": int((probes.unknown_scores <= t).sum()),
            }
        )
    return rows


def at_far_rows(probes: ScoredProbes) -> list[dict[str, float]]:
    rows = []
    for far in FARS:
        t = threshold_at_far(probes.unknown_scores, far)
        rows.append({"far": far, "threshold": t, "dir": dir_at_threshold(probes, t)})
    return rows


def decision(found: Candidates, thresholds: Thresholds) -> dict[str, float]:
    """The server's verdicts (``assign``) at ``thresholds``, on the whole set and each half."""
    whole = asdict(at_defaults(found.known, found.strangers, thresholds))
    for label, part in zip(("a", "b"), halves(found), strict=True):
        d = at_defaults(part.known, part.strangers, thresholds)
        whole[f"known_right_{label}"] = d.known_right
        whole[f"strangers_named_{label}"] = d.strangers_named
    return whole


def floor_to(value: float, step: float) -> float:
    return round(math.floor(value / step + 1e-9) * step, 4)


def ceil_to(value: float, step: float) -> float:
    return round(math.ceil(value / step - 1e-9) * step, 4)


GALLERY_SIZES = (20, 100, 300)


def by_gallery_size(
    protocol: IdentificationSet,
    faces: dict[Path, ImageFaces],
    analyzer: FaceAnalyzer,
    thresholds: Thresholds,
) -> list[dict[str, float]]:
    """The decision at the model's defaults as the gallery grows (every n-th person kept,
    all strangers each time): a fixed threshold names more strangers in a larger gallery."""
    names = sorted(protocol.gallery)
    rows = []
    for size in (*GALLERY_SIZES, len(names)):
        keep = set(names[:: max(1, len(names) // size)][:size])
        subset = IdentificationSet(
            {n: p for n, p in protocol.gallery.items() if n in keep},
            [(n, p) for n, p in protocol.probes if n in keep],
            protocol.unknown,
        )
        found = candidates_for(subset, faces, analyzer)
        d = at_defaults(found.known, found.strangers, thresholds)
        rows.append(
            {
                "people": len(keep),
                "known_right": d.known_right,
                "known_wrong": d.known_wrong,
                "strangers_named": d.strangers_named,
            }
        )
    return rows


# --- clustering ------------------------------------------------------------------------------
def centre_faces(faces: dict[Path, ImageFaces]) -> tuple[npt.NDArray[np.float32], list[str]]:
    vectors, truth = [], []
    for path, found in sorted(faces.items()):
        vector = found.central()
        if vector is not None:
            vectors.append(vector)
            truth.append(path.parent.name)
    return np.stack(vectors).astype(np.float32), truth


def clustering_rows(
    vectors: npt.NDArray[np.float32], truth: list[str], centre: float, step: float, bound: float
) -> list[dict[str, float]]:
    """Purity and inverse purity at thresholds around ``centre``: re-clustered, and (where
    re-clustering keeps purity >= ``bound``) incremental, the ingest path (one random order)."""
    rows = []
    for i in range(CLUSTER_STEPS):
        t = round(centre + (i - CLUSTER_STEPS // 2) * step, 4)
        result = score(truth, cluster(vectors, t))
        row = {
            "threshold": t,
            "strangers": result.clusters,
            "purity": result.purity,
            "inverse_purity": result.inverse_purity,
        }
        if result.purity >= bound:
            [joined] = incremental_over_orders(vectors, truth, t, 1)
            row |= {
                "incremental_strangers": joined.clusters,
                "incremental_purity": joined.purity,
                "incremental_inverse_purity": joined.inverse_purity,
            }
        rows.append(row)
    return rows


def cluster_pick(rows: list[dict[str, float]], bound: float) -> dict[str, float]:
    """Among thresholds where both paths keep purity >= ``bound``, the best sum of purity
    and inverse purity over both (the first row when none qualifies)."""
    good = [r for r in rows if min(r["purity"], r.get("incremental_purity", 0.0)) >= bound]
    keys = ("purity", "inverse_purity", "incremental_purity", "incremental_inverse_purity")
    return max(good, key=lambda r: sum(r[k] for k in keys)) if good else rows[0]


# --- one model ---------------------------------------------------------------------------------
@dataclass(slots=True)
class Calibration:
    """Everything measured for one embedder, and the defaults chosen from it."""

    embedder: str
    model_id: str
    spec_defaults: dict[str, float]
    people: int = 0
    probes: int = 0
    strangers: int = 0
    probes_without_face: int = 0
    strangers_without_face: int = 0
    rank1: float = 0.0
    margins: list[dict[str, float]] = field(default_factory=list)
    margin_checks: list[str] = field(default_factory=list)
    curve: list[dict[str, float]] = field(default_factory=list)
    at_far: list[dict[str, float]] = field(default_factory=list)
    nearest_at_far: list[dict[str, float]] = field(default_factory=list)
    chosen: dict[str, float] = field(default_factory=dict)
    at_chosen: dict[str, float] = field(default_factory=dict)
    at_spec: dict[str, float] = field(default_factory=dict)
    by_size: list[dict[str, float]] = field(default_factory=list)
    threshold_checks: list[str] = field(default_factory=list)
    clustering: list[dict[str, float]] = field(default_factory=list)
    verification: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def spec_thresholds(spec: ModelSpec) -> Thresholds:
    d = spec.defaults
    return Thresholds(
        d.match_threshold,
        d.unknown_threshold,
        margin_weight=d.margin_weight,
        margin_cap=d.margin_cap,
    )


def calibrate(name: str, shared: SharedDetections, args: argparse.Namespace) -> Calibration:
    started = time.perf_counter()
    settings = Settings()
    analyzer = analyzer_for(name, shared)
    spec = analyzer.embedder.spec
    result = Calibration(name, spec.model_id, asdict(spec.defaults))
    embedder = pipeline(analyzer, settings)
    lfw = testdata_dir() / "lfw_devtrain"
    protocol = lfw_protocol(lfw / "lfw", enrolled=1, probes=2)
    pairs = read_pairs(lfw / "pairsDevTrain.txt", lfw / "lfw")
    paths = list(protocol.images) + [p for pair in pairs for p in (pair.first, pair.second)]
    if args.clustering:
        paths += sorted((lfw / "lfw").glob("*/*.jpg"))
    faces = embed(embedder, list(dict.fromkeys(paths)), f"embedding LFW DevTrain ({name})")
    templates = faces
    if embedder.enrolment is not None:
        templates = embedder.enrolment_faces(gallery_photos(protocol), None)
    found = candidates_for(protocol, faces, analyzer, templates)
    open_set(result, found, args)
    verified = run_verification(lfw / "pairsDevTrain.txt", lfw / "lfw", embedder)
    result.verification = verified.summary()
    if args.clustering:
        vectors, truth = centre_faces(faces)
        # dlib's 0.45 lies by the distance that names 1% of strangers (0.434): start there
        centre = floor_to(result.nearest_at_far[FARS.index(0.01)]["threshold"], args.cluster_step)
        result.clustering = clustering_rows(vectors, truth, centre, args.cluster_step, args.purity)
        pick = cluster_pick(result.clustering, args.purity)
        result.chosen["cluster_threshold"] = pick["threshold"]
    result.at_spec = decision(found, spec_thresholds(spec))
    result.by_size = by_gallery_size(protocol, faces, analyzer, spec_thresholds(spec))
    result.seconds = time.perf_counter() - started
    return result


def open_set(result: Calibration, found: Candidates, args: argparse.Namespace) -> None:
    result.people = found.gallery.people_count
    result.probes, result.strangers = len(found.known), len(found.strangers)
    result.probes_without_face = sum(1 for _, c in found.known if c is None)
    result.strangers_without_face = sum(1 for c in found.strangers if c is None)
    margin = choose_margin(found, args.far)
    result.margins, result.margin_checks = margin.table, margin.checks
    rule = rule_of(margin.weight, margin.cap)
    probes = scored(found, rule)
    result.rank1 = probes.rank1
    result.curve = curve_rows(probes)
    result.at_far = at_far_rows(probes)
    result.nearest_at_far = at_far_rows(scored(found, rule_of(0.0, 0.0)))
    match = floor_to(threshold_at_far(probes.unknown_scores, args.far - args.safety), args.step)
    unknown = ceil_to(threshold_at_far(probes.unknown_scores, args.uncertain_far), args.step)
    unknown = max(unknown, round(match + args.step, 4))
    chosen = Thresholds(match, unknown, margin_weight=margin.weight, margin_cap=margin.cap)
    result.chosen = {
        "match_threshold": match,
        "unknown_threshold": unknown,
        "margin_weight": margin.weight,
        "margin_cap": margin.cap,
    }
    result.at_chosen = decision(found, chosen)
    for label, (tune_on, check_on) in zip(
        ("A->B", "B->A"), (halves(found), halves(found)[::-1]), strict=True
    ):
        s_tune, s_check = scored(tune_on, rule), scored(check_on, rule)
        t = floor_to(threshold_at_far(s_tune.unknown_scores, args.far - args.safety), args.step)
        result.threshold_checks.append(
            f"match threshold chosen on half {label[0]}: {t:g}; on half {label[-1]} it names "
            f"{far_at_threshold(s_check, t):.4f} of strangers and "
            f"{dir_at_threshold(s_check, t):.3f} of known probes right"
        )


# --- output ------------------------------------------------------------------------------------
def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def markdown(results: list[Calibration], command: str) -> str:
    lines = [f"# Calibration on LFW DevTrain: {', '.join(r.embedder for r in results)}", ""]
    lines += side_by_side(results)
    for r in results:
        lines += model_section(r)
    lines += [f"Command: `{command}`  ", f"Machine: {machine_line()}"]
    return "\n".join(lines)


def side_by_side(results: list[Calibration]) -> list[str]:
    far_heads = " | ".join(f"DIR@{100 * f:g}%" for f in FARS)
    lines = [
        "## Side by side (protocol A; each model with its chosen margin rule)",
        "",
        f"| embedder | model | rank-1 | {far_heads} | verification (10-fold) |",
        "|---|---|---:|" + "---:|" * len(FARS) + "---:|",
    ]
    for r in results:
        dirs = " | ".join(f"{row['dir']:.3f}" for row in r.at_far)
        v = r.verification
        lines.append(
            f"| {r.embedder} | {r.model_id} | {r.rank1:.3f} | {dirs} "
            f"| {v['accuracy']:.4f} ± {v['std']:.4f} ({v['failed']} failed) |"
        )
    lines += [
        "",
        "| embedder | defaults | known named right | named wrong | uncertain | unknown "
        "| strangers named | strangers uncertain |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for label, values, d in (
            ("model's spec", r.spec_defaults, r.at_spec),
            ("chosen by this run", r.chosen, r.at_chosen),
        ):
            lines.append(
                f"| {r.embedder} | {label}: {describe(values)} | {d['known_right']:.3f} "
                f"| {d['known_wrong']:.3f} | {d['known_uncertain']:.3f} | {unknown(d):.3f} "
                f"| {d['strangers_named']:.4f} | {d['strangers_uncertain']:.3f} |"
            )
    return [*lines, ""]


def unknown(d: dict[str, float]) -> float:
    """Known probes declared unknown (a stranger's identity would take them)."""
    return 1.0 - d["known_right"] - d["known_wrong"] - d["known_uncertain"]


def describe(values: dict[str, float]) -> str:
    keys = ("match_threshold", "unknown_threshold", "margin_weight", "margin_cap")
    text = " / ".join(f"{values[k]:g}" for k in keys)
    if "cluster_threshold" in values:
        text += f", cluster {values['cluster_threshold']:g}"
    return text


def model_section(r: Calibration) -> list[str]:
    lines = [
        f"## {r.embedder} ({r.model_id})",
        "",
        f"{r.people} people enrolled with one photo, {r.probes} known probes "
        f"({r.probes_without_face} without a face), {r.strangers} strangers "
        f"({r.strangers_without_face} without a face); rank-1 {r.rank1:.3f}; "
        f"{r.seconds:.0f} s.",
        "",
        "Margin rules, DIR at 1% of strangers named (whole set; half A; half B):",
        "",
        "| weight | cap | DIR@1% | half A | half B |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in r.margins:
        lines.append(
            f"| {row['weight']:g} | {row['cap']:g} | {row['dir']:.3f} | {row['dir_a']:.3f} "
            f"| {row['dir_b']:.3f} |"
        )
    lines += ["", *(f"- {c}" for c in r.margin_checks), ""]
    lines += [
        f"Curve with margin weight {r.chosen['margin_weight']:g}, cap "
        f"{r.chosen['margin_cap']:g} (match = unknown = threshold):",
        "",
        "| threshold | known named right | named wrong | strangers named |",
        "|---:|---:|---:|---:|",
    ]
    for row in r.curve:
        lines.append(
            f"| {row['threshold']:.3f} | {row['known_right']:.3f} | {row['known_wrong']:.3f} "
            f"| {row['strangers_named']:.4f} ({row['strangers_named_count']}) |"
        )
    lines += ["", "| FAR | threshold (margin rule) | DIR | distance alone: threshold | DIR |"]
    lines.append("|---:|---:|---:|---:|---:|")
    for ours, plain in zip(r.at_far, r.nearest_at_far, strict=True):
        lines.append(
            f"| {100 * ours['far']:g}% | {ours['threshold']:.3f} | {ours['dir']:.3f} "
            f"| {plain['threshold']:.3f} | {plain['dir']:.3f} |"
        )
    lines += ["", *(f"- {c}" for c in r.threshold_checks), ""]
    if r.clustering:
        lines += [
            "Strangers' re-clustering of every LFW DevTrain photo's centre face:",
            "",
            "| threshold | re-clustered: strangers | purity | inverse purity "
            "| incremental: strangers | purity | inverse purity |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in r.clustering:
            joined = " | ".join(
                f"{row[k]:.3f}" if k in row else "-"
                for k in ("incremental_purity", "incremental_inverse_purity")
            )
            lines.append(
                f"| {row['threshold']:.3f} | {row['strangers']} | {row['purity']:.3f} "
                f"| {row['inverse_purity']:.3f} | {row.get('incremental_strangers', '-')} "
                f"| {joined} |"
            )
        lines.append("")
    lines += [
        f"At the model's defaults ({describe(r.spec_defaults)}) as the gallery grows (every "
        "n-th person enrolled, all strangers):",
        "",
        "| people enrolled | known named right | named wrong | strangers named |",
        "|---:|---:|---:|---:|",
        *(
            f"| {row['people']} | {row['known_right']:.3f} | {row['known_wrong']:.3f} "
            f"| {row['strangers_named']:.4f} |"
            for row in r.by_size
        ),
        "",
        f"Chosen: {describe(r.chosen)}.",
        "",
    ]
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--embedder",
        action="append",
        dest="embedders",
        help="embedder to calibrate, repeatable (default: edgeface and dlib)",
    )
    parser.add_argument("--far", type=float, default=0.01, help="strangers named at most (0.01)")
    parser.add_argument(
        "--safety", type=float, default=0.0025, help="taken off --far for the default (0.0025)"
    )
    parser.add_argument(
        "--uncertain-far",
        type=float,
        default=0.05,
        help="strangers scoring under the unknown threshold at most (0.05)",
    )
    parser.add_argument("--step", type=float, default=0.01, help="threshold rounding (0.01)")
    parser.add_argument("--cluster-step", type=float, default=0.025, help="(0.025)")
    parser.add_argument("--purity", type=float, default=0.96, help="clustering purity (0.96)")
    parser.add_argument("--no-clustering", dest="clustering", action="store_false")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    names = args.embedders or ["edgeface", "dlib"]
    shared = SharedDetections()
    results = [calibrate(name, shared, args) for name in names]
    given = " ".join(f"--embedder {n}" for n in args.embedders or [])
    command = f"python benchmarks/bench_calibrate.py {given}".strip()
    print(markdown(results, command))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload: dict[str, Any] = {
            "command": command,
            "machine": machine(),
            "models": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
