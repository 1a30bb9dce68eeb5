"""Open-set identification on LFW DevTrain: Facewatch's decision rules and the older SVM.

Protocols (from lfw_devtrain/lfw, people in name order, nothing random):

* **A, the issue's protocol**: people with at least 3 photos are enrolled with their first
  photo and probed with the next two; as many one-photo people as there are probes are
  the strangers. Reported: rank-1, DIR at FAR 0.1% .. 10% for plain nearest neighbour
  and for the runner-up margin rule at several weights, and the server's decision at its
  default settings. The margin weight is chosen on half the people (and half the
  strangers) and checked on the other half, so the gain is not a fit to the test set.
* **B, templates per person and the SVM**: people with at least 7 photos, enrolled with
  their first 5 (or only the first, for comparison), probed with the next two; strangers
  as many one-photo people. The SVM (linear, probabilities, accept at 0.8) is trained on
  the 5 enrolment photos per person.

Every photo goes through the configured pipeline, and enrolment photos become templates as
the server makes them (FACEWATCH_ENROLMENT_JITTER); embeddings come from the cache that
`facewatch eval` fills (user cache dir), so after one `facewatch eval identify --lfw ...`
run this takes seconds. DET plots go to benchmarks/out/.

Run from the repository root:

    python benchmarks/bench_eval_identify.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from _shared import REPO_ROOT, machine_line, testdata_dir
from facewatch.config import Settings
from facewatch.evaluation.cli import default_cache_dir
from facewatch.evaluation.embeddings import EmbeddingCache, ImageFaces, enrolment_cache
from facewatch.evaluation.identification import ScoredProbes, nearest_distance, score_probes
from facewatch.evaluation.plots import det_plot
from facewatch.evaluation.protocol import IdentificationSet, lfw_protocol
from facewatch.evaluation.runs import (
    Candidates,
    Embedder,
    at_defaults,
    candidates_for,
    enrolment_photos,
    svm_rule,
)
from facewatch.gallery.matching import Thresholds, decision_score, thresholds_from
from facewatch.vision.pipeline import create_analyzer

FARS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1)
RULES = tuple((w, c) for w in (0.5, 1.0, 2.0) for c in (0.1, 0.2))
"""(margin weight, margin cap) pairs compared with plain nearest neighbour."""
SIZES = (20, 100, 300)
err = Console(stderr=True)


class _Bar:
    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("embedding", total=None)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)


def embed(embedder: Embedder, protocol: IdentificationSet) -> dict[Path, ImageFaces]:
    """Every photo's faces; enrolment photos' vectors are the templates the server makes."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err) as progress:
        faces = embedder.faces(protocol.images, _Bar(progress))
        faces.update(embedder.enrolment_faces(enrolment_photos(protocol), _Bar(progress)))
    return faces


def margin_rule(weight: float, cap: float, settings: Settings) -> Thresholds:
    return Thresholds(
        settings.match_threshold, settings.unknown_threshold, margin_weight=weight, margin_cap=cap
    )


def score(found: Candidates, thresholds: Thresholds) -> ScoredProbes:
    return score_probes(found.known, found.strangers, lambda c: decision_score(c, thresholds))


def row(name: str, scored: ScoredProbes) -> str:
    rates = " | ".join(f"{scored.dir_at_far(far):.3f}" for far in FARS)
    return f"| {name} | {scored.rank1:.3f} | {rates} |"


def header() -> str:
    fars = " | ".join(f"DIR@{far:g}" for far in FARS)
    return f"| rule | rank-1 | {fars} |\n|---|---|" + "---|" * len(FARS)


def halves(found: Candidates) -> tuple[Candidates, Candidates]:
    """Split people (and strangers) into two halves, alternating in name order."""
    names = sorted({name for name, _ in found.known})
    first = set(names[0::2])

    def part(keep_first: bool) -> Candidates:
        known = [(n, c) for n, c in found.known if (n in first) == keep_first]
        strangers = [c for i, c in enumerate(found.strangers) if (i % 2 == 0) == keep_first]
        return Candidates(found.gallery, found.enrolled, known, strangers)

    return part(True), part(False)


def tune(found: Candidates, settings: Settings) -> list[str]:
    """Choose (weight, cap) on one half at FAR 1%, report it on the other half."""
    lines = []
    for label, (tune_on, check_on) in (("A->B", halves(found)), ("B->A", halves(found)[::-1])):
        best = max(RULES, key=lambda r: score(tune_on, margin_rule(*r, settings)).dir_at_far(0.01))
        chosen = score(check_on, margin_rule(*best, settings)).dir_at_far(0.01)
        plain = score(check_on, margin_rule(0.0, 0.0, settings)).dir_at_far(0.01)
        lines.append(
            f"tuned on half {label[0]}: weight {best[0]}, cap {best[1]}; on half {label[-1]} "
            f"DIR@1% {plain:.3f} (nearest) -> {chosen:.3f} (margin)"
        )
    return lines


def by_gallery_size(
    protocol: IdentificationSet,
    faces: dict[Path, ImageFaces],
    embedder: Embedder,
    rules: dict[str, Thresholds],
) -> list[str]:
    """The decision at fixed settings as the gallery grows (every n-th person kept)."""
    lines = ["| people | rule | known named right | named wrong | strangers named |"]
    lines.append("|---|---|---|---|---|")
    names = sorted(protocol.gallery)
    for size in (*SIZES, len(names)):
        keep = set(names[:: max(1, len(names) // size)][:size])
        subset = IdentificationSet(
            {n: p for n, p in protocol.gallery.items() if n in keep},
            [(n, p) for n, p in protocol.probes if n in keep],
            protocol.unknown,
        )
        found = candidates_for(subset, faces, embedder.analyzer)
        for name, thresholds in rules.items():
            d = at_defaults(found.known, found.strangers, thresholds)
            lines.append(
                f"| {len(keep)} | {name} | {d.known_right:.3f} | {d.known_wrong:.3f} "
                f"| {d.strangers_named:.4f} |"
            )
    return lines


def defaults_line(found: Candidates, thresholds: Thresholds) -> str:
    d = at_defaults(found.known, found.strangers, thresholds)
    return (
        f"server defaults (match {thresholds.match}, unknown {thresholds.unknown}, margin "
        f"weight {thresholds.margin_weight}): known named right {d.known_right:.3f}, named wrong "
        f"{d.known_wrong:.3f}, uncertain {d.known_uncertain:.3f}; strangers named "
        f"{d.strangers_named:.3f}, uncertain {d.strangers_uncertain:.3f}"
    )


def protocol_a(embedder: Embedder, settings: Settings, out: Path) -> dict[str, object]:
    protocol = lfw_protocol(testdata_dir() / "lfw_devtrain" / "lfw", enrolled=1, probes=2)
    faces = embed(embedder, protocol)
    found = candidates_for(protocol, faces, embedder.analyzer)
    print(
        f"\n## Protocol A: {len(protocol.gallery)} people enrolled with 1 photo, "
        f"{len(found.known)} probes, {len(found.strangers)} strangers"
    )
    print(
        f"\nprobes without a face: {sum(c is None for _, c in found.known)}; "
        f"strangers without a face: {sum(c is None for c in found.strangers)}\n"
    )
    print(header())
    curves = {"nearest neighbour": score_probes(found.known, found.strangers, nearest_distance)}
    print(row("nearest neighbour", curves["nearest neighbour"]))
    for weight, cap in RULES:
        scored = score(found, margin_rule(weight, cap, settings))
        curves[f"margin {weight}/{cap}"] = scored
        print(row(f"runner-up margin, weight {weight}, cap {cap}", scored))
    print()
    for line in tune(found, settings):
        print(line)
    defaults = thresholds_from(settings)
    print(defaults_line(found, defaults))
    plain = margin_rule(0.0, 0.0, settings)
    print()
    rules = {f"distance alone ({plain.match}/{plain.unknown})": plain, "defaults": defaults}
    for line in by_gallery_size(protocol, faces, embedder, rules):
        print(line)
    det_plot(curves, out / "det_protocol_a.png", "LFW DevTrain, 1 photo enrolled")
    ours = score(found, defaults)
    return {
        "rank1": round(ours.rank1, 4),
        "dir_at_far": {str(f): round(ours.dir_at_far(f), 4) for f in (0.01, 0.001)},
    }


def svm_by_size(
    protocol: IdentificationSet,
    faces: dict[Path, ImageFaces],
    embedder: Embedder,
    defaults: Thresholds,
) -> list[str]:
    """The SVM at probability 0.8 and Facewatch's defaults, as the gallery grows."""
    lines = [
        "| people | SVM@0.8 known named right | SVM@0.8 strangers named "
        "| facewatch known named right | facewatch strangers named |",
        "|---|---|---|---|---|",
    ]
    names = sorted(protocol.gallery)
    for size in (3, 5, 10, 25, 50, len(names)):
        keep = set(names[:: max(1, len(names) // size)][:size])
        subset = IdentificationSet(
            {n: p for n, p in protocol.gallery.items() if n in keep},
            [(n, p) for n, p in protocol.probes if n in keep],
            protocol.unknown,
        )
        found = candidates_for(subset, faces, embedder.analyzer)
        _, (svm_right, svm_named) = svm_rule(subset, faces, found.enrolled)
        ours = at_defaults(found.known, found.strangers, defaults)
        lines.append(
            f"| {len(keep)} | {svm_right:.3f} | {svm_named:.3f} "
            f"| {ours.known_right:.3f} | {ours.strangers_named:.3f} |"
        )
    return lines


def protocol_b(embedder: Embedder, settings: Settings, out: Path) -> None:
    lfw = testdata_dir() / "lfw_devtrain" / "lfw"
    five = lfw_protocol(lfw, enrolled=5, probes=2)
    faces = embed(embedder, five)
    found5 = candidates_for(five, faces, embedder.analyzer)
    one = IdentificationSet(
        {name: photos[:1] for name, photos in five.gallery.items()}, five.probes, five.unknown
    )
    found1 = candidates_for(one, faces, embedder.analyzer)
    svm, _ = svm_rule(five, faces, found5.enrolled)
    defaults = thresholds_from(settings)
    print(
        f"\n## Protocol B: {len(five.gallery)} people with 7+ photos, {len(five.probes)} "
        f"probes, {len(five.unknown)} strangers\n"
    )
    print(header())
    curves = {
        "nearest, 1 photo": score_probes(found1.known, found1.strangers, nearest_distance),
        "nearest, 5 photos": score_probes(found5.known, found5.strangers, nearest_distance),
        "facewatch, 5 photos": score(found5, defaults),
        "SVM, 5 photos": svm,
    }
    for name, scored in curves.items():
        print(row(name, scored))
    print()
    print(defaults_line(found5, defaults))
    print()
    for line in svm_by_size(five, faces, embedder, defaults):
        print(line)
    det_plot(curves, out / "det_protocol_b.png", "LFW DevTrain, people with 7+ photos")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "out")
    args = parser.parse_args()
    settings = Settings()
    analyzer = create_analyzer(settings)
    embedder = Embedder(
        analyzer,
        EmbeddingCache.for_analyzer(default_cache_dir(), analyzer),
        settings.max_image_pixels,
        enrolment_cache(default_cache_dir(), analyzer, settings.enrolment_jitter),
    )
    started = time.perf_counter()
    print(f"# Open-set identification on LFW DevTrain, {analyzer.model_id}")
    print(f"machine: {machine_line()}")
    summary = protocol_a(embedder, settings, args.out)
    protocol_b(embedder, settings, args.out)
    print(f"\nrun time {time.perf_counter() - started:.0f} s; DET plots in {args.out}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
