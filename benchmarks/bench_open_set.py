"""Open-set calibration of the match thresholds on LFW: who gets named, rightly or wrongly.

The question behind the defaults (match 0.5, unknown 0.6 in src/facewatch/config.py): in a
1:N search, how many enrolled people are named correctly, how many are named as somebody
else, and how many strangers are named at all, as the threshold moves?

Set-up, from lfw_devtrain/lfw (LFW deep-funneled, one folder per person), deterministic
(sorted names, one seeded random generator):

* people with at least 3 photos are put in a seeded random order, and each one's photos are
  shuffled: the first two are the **probes**, the rest are enrolment candidates, tried in
  order through Facewatch's enrolment gate (one face of at least min_face_size px, sharp
  enough, frontal enough). The first ``--people`` (100) people with at least one accepted
  candidate are enrolled with 1 photo each, and in a second run with up to 3; a person none
  of whose candidates pass is skipped (and reported);
* ``--strangers`` (100) people not enrolled give one photo each.

Every photo goes through Facewatch's own pipeline: ``create_analyzer(Settings())`` →
``analyze`` (HOG detector, 5-point landmarks, alignment, dlib ResNet embedding). In a probe
the face nearest the image centre is the labelled person (LFW's convention). The gallery is
``facewatch.gallery.gallery.Gallery``, the decision ``facewatch.gallery.matching.assign``.

Reported, for each number of enrolment photos per person (``--templates``, 1 and 3) and each
runner-up margin weight (``--margin-weights``; default: the configured margin_weight, with
margin_cap; see src/facewatch/gallery/matching.py):

* a single-threshold sweep 0.40..0.65 (match = unknown = t): known probes named right,
  named wrong, not named; strangers named (false alarms);
* the two-threshold scheme at the configured values (FACEWATCH_MATCH_THRESHOLD,
  FACEWATCH_UNKNOWN_THRESHOLD; 0.5 / 0.6 by default): known / uncertain / unknown rates;
* faces not detected, enrolment photos refused (by reason), closed-set rank-1, and the
  nearest-person distances of known probes and strangers.

Run from the repository root (about 1.5 minutes for the default 100 + 100 people):

    python benchmarks/bench_open_set.py
    python benchmarks/bench_open_set.py --margin-weights 0 1   # distance alone vs margin
    python benchmarks/bench_open_set.py --strangers 1000 --json
    python benchmarks/bench_open_set.py --faces-dir /your/people   # one folder per person

Test data comes from FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from _shared import machine, machine_line, testdata_dir
from facewatch.config import Settings
from facewatch.gallery.gallery import Gallery, TemplateEntry
from facewatch.gallery.matching import Thresholds, assign
from facewatch.types import Embedding, Face, MatchStatus
from facewatch.vision.image import load_image
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer
from facewatch.vision.quality import MIN_ENROLMENT_SHARPNESS, enrolment_face, enrolment_problem

LFW_DIR = "lfw_devtrain/lfw"
SWEEP = tuple(round(0.40 + 0.025 * i, 3) for i in range(11))
"""Single thresholds tried: 0.400, 0.425, ... 0.650."""
PROBES_PER_PERSON = 2
MIN_PHOTOS = PROBES_PER_PERSON + 1
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}

err = Console(stderr=True)


# --- embedding -------------------------------------------------------------------------
class FaceBank:
    """Analyses each photo once; answers "the probe face" and "the enrolment face"."""

    def __init__(self, analyzer: FaceAnalyzer, settings: Settings) -> None:
        self._analyzer = analyzer
        self._settings = settings
        self._faces: dict[Path, tuple[list[Face], tuple[int, int]]] = {}

    @property
    def model_id(self) -> str:
        return self._analyzer.model_id

    def analyse_all(self, paths: Iterable[Path], what: str) -> None:
        """Run the pipeline on every photo not seen yet, with a progress bar."""
        todo = [p for p in dict.fromkeys(paths) if p not in self._faces]
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task(what, total=len(todo))
            for path in todo:
                self._analyse(path)
                bar.advance(task)

    def probe(self, path: Path) -> Embedding | None:
        """The embedding of the face nearest the image centre, or ``None`` if none was found."""
        faces, (width, height) = self._analyse(path)
        if not faces:
            return None
        centre = min(faces, key=lambda f: _centre_distance(f, width / 2, height / 2))
        return centre.embedding

    def enrolment(self, path: Path) -> Embedding | str:
        """The template this photo would give, or why Facewatch's enrolment refuses it.

        The same gate as ``facewatch.server.services.enrollment``: the one face of at least
        ``min_face_size`` px, or the largest when it has twice the area of every other
        (``enrolment_face``), then size, sharpness (calibrated unless set) and pose.
        """
        settings = self._settings
        faces, _ = self._analyse(path)
        if not faces:
            return "no_face"
        chosen = enrolment_face([f.box for f in faces], min_size=settings.min_face_size)
        if chosen is None:
            return "several_faces"
        face = faces[chosen]
        explicit = "min_sharpness" in settings.model_fields_set
        problem = enrolment_problem(
            face.quality,
            min_size=settings.min_face_size,
            min_sharpness=settings.min_sharpness if explicit else MIN_ENROLMENT_SHARPNESS,
            max_yaw=settings.max_yaw,
        )
        if problem is not None or face.embedding is None:
            return problem or "no_embedding"
        return face.embedding

    def _analyse(self, path: Path) -> tuple[list[Face], tuple[int, int]]:
        if path not in self._faces:
            image = load_image(path, max_pixels=self._settings.max_image_pixels)
            self._faces[path] = (self._analyzer.analyze(image), (image.shape[1], image.shape[0]))
        return self._faces[path]


def _centre_distance(face: Face, cx: float, cy: float) -> float:
    box = face.box
    return float(np.hypot((box.left + box.right) / 2 - cx, (box.top + box.bottom) / 2 - cy))


# --- selection -------------------------------------------------------------------------
def photos_in(folder: Path) -> list[Path]:
    """The photos of one person's folder, sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


@dataclass(frozen=True, slots=True)
class KnownPerson:
    """A person who may be enrolled: two probe photos and enrolment candidates, in order."""

    name: str
    probes: tuple[Path, ...]
    candidates: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class Selection:
    known: list[KnownPerson]
    skipped: list[str]
    """People passed over because none of their enrolment candidates passed the gate."""
    strangers: list[Path]


def select(
    faces_dir: Path, bank: FaceBank, people: int, strangers: int, seed: int, most: int
) -> Selection:
    """Enrolled people and strangers, from sorted names and one seeded generator."""
    folders = {d.name: photos_in(d) for d in sorted(faces_dir.iterdir()) if d.is_dir()}
    folders = {name: photos for name, photos in folders.items() if photos}
    rng = random.Random(seed)
    eligible = [name for name, photos in folders.items() if len(photos) >= MIN_PHOTOS]
    order = []
    for name in rng.sample(eligible, len(eligible)):
        photos = list(folders[name])
        rng.shuffle(photos)
        order.append(
            KnownPerson(name, tuple(photos[:PROBES_PER_PERSON]), tuple(photos[PROBES_PER_PERSON:]))
        )
    bank.analyse_all(
        (p for person in order[:people] for p in person.probes + person.candidates[:most]),
        "embedding enrolment and probe photos",
    )
    known: list[KnownPerson] = []
    skipped: list[str] = []
    for person in order:
        if len(known) == people:
            break
        if any(not isinstance(bank.enrolment(p), str) for p in person.candidates):
            known.append(person)
        else:
            skipped.append(person.name)
    if len(known) < people:
        raise SystemExit(f"only {len(known)} people could be enrolled")
    taken = {person.name for person in known}
    others = [name for name in folders if name not in taken]
    if len(others) < strangers:
        raise SystemExit(f"only {len(others)} people are left to be strangers")
    picked = sorted(rng.sample(others, strangers))
    stranger_photos = [rng.choice(folders[name]) for name in picked]
    bank.analyse_all(stranger_photos, "embedding stranger photos")
    return Selection(known, skipped, stranger_photos)


# --- evaluation ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Probe:
    truth: str | None
    """The enrolled name this face belongs to; ``None`` for a stranger."""
    embedding: Embedding


@dataclass(slots=True)
class Outcome:
    """Counts of verdicts for one group of probes at one setting."""

    total: int = 0
    right: int = 0
    wrong: int = 0
    uncertain: int = 0
    unknown: int = 0

    @property
    def named(self) -> int:
        return self.right + self.wrong


@dataclass(slots=True)
class Scenario:
    """One gallery (up to ``templates_per_person`` photos each) and everything measured on it."""

    templates_per_person: int
    margin_weight: float
    margin_cap: float
    templates: int = 0
    template_histogram: dict[int, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    rank1: float = 0.0
    distances: dict[str, float] = field(default_factory=dict)
    sweep: dict[float, tuple[Outcome, Outcome]] = field(default_factory=dict)
    defaults: tuple[Outcome, Outcome] = field(default_factory=lambda: (Outcome(), Outcome()))


def build_gallery(
    bank: FaceBank, known: list[KnownPerson], per_person: int, scenario: Scenario
) -> Gallery:
    """Enrol the first ``per_person`` candidates of each person that pass the gate."""
    refused: Counter[str] = Counter()
    histogram: Counter[int] = Counter()
    entries: list[TemplateEntry] = []
    for person_id, person in enumerate(known, start=1):
        accepted = 0
        for path in person.candidates:
            if accepted == per_person:
                break
            template = bank.enrolment(path)
            if isinstance(template, str):
                refused[template] += 1
                continue
            accepted += 1
            entries.append(TemplateEntry(len(entries) + 1, person_id, person.name, template))
        histogram[accepted] += 1
    gallery = Gallery(bank.model_id, int(entries[0].embedding.shape[0]))
    gallery.add(entries)
    scenario.templates = len(gallery)
    scenario.template_histogram = dict(sorted(histogram.items()))
    scenario.refused = dict(sorted(refused.items()))
    return gallery


def evaluate(
    gallery: Gallery, probes: list[Probe], thresholds: Thresholds, top_k: int
) -> tuple[Outcome, Outcome]:
    """Verdicts for known probes and for strangers at one pair of thresholds."""
    known, strangers = Outcome(), Outcome()
    candidates = gallery.nearest_people(np.stack([p.embedding for p in probes]), top_k)
    for probe, cands in zip(probes, candidates, strict=True):
        match = assign([cands], thresholds)[0]
        outcome = strangers if probe.truth is None else known
        outcome.total += 1
        if match.status is MatchStatus.KNOWN:
            if match.name == probe.truth:
                outcome.right += 1
            else:
                outcome.wrong += 1
        elif match.status is MatchStatus.UNCERTAIN:
            outcome.uncertain += 1
        else:
            outcome.unknown += 1
    return known, strangers


def nearest_distances(gallery: Gallery, probes: list[Probe], scenario: Scenario) -> None:
    """Closed-set rank-1 and quantiles of the distance to the nearest enrolled person."""
    nearest = [c[0] for c in gallery.nearest_people(np.stack([p.embedding for p in probes]), 1)]
    own = [c.distance for p, c in zip(probes, nearest, strict=True) if p.truth == c.name]
    known = [p for p in probes if p.truth is not None]
    stranger = [c.distance for p, c in zip(probes, nearest, strict=True) if p.truth is None]
    scenario.rank1 = len(own) / len(known)
    scenario.distances = {
        "known_right_median": float(np.median(own)),
        "known_right_p90": float(np.percentile(own, 90)),
        "stranger_p5": float(np.percentile(stranger, 5)),
        "stranger_median": float(np.median(stranger)),
    }


def run_scenario(
    bank: FaceBank,
    known: list[KnownPerson],
    probes: list[Probe],
    per_person: int,
    margin_weight: float,
    settings: Settings,
) -> Scenario:
    """Enrol, sweep the single threshold and apply the configured pair."""
    cap = settings.margin_cap
    scenario = Scenario(per_person, margin_weight, cap)
    gallery = build_gallery(bank, known, per_person, scenario)
    nearest_distances(gallery, probes, scenario)
    for t in SWEEP:
        single = Thresholds(t, t, margin_weight, cap)
        scenario.sweep[t] = evaluate(gallery, probes, single, settings.top_k)
    pair = Thresholds(settings.match_threshold, settings.unknown_threshold, margin_weight, cap)
    scenario.defaults = evaluate(gallery, probes, pair, settings.top_k)
    return scenario


def probes_of(bank: FaceBank, selection: Selection) -> tuple[list[Probe], list[Probe]]:
    """Known probes and strangers whose photo gave a face."""
    known = [
        Probe(person.name, embedding)
        for person in selection.known
        for path in person.probes
        if (embedding := bank.probe(path)) is not None
    ]
    strangers = [
        Probe(None, embedding)
        for path in selection.strangers
        if (embedding := bank.probe(path)) is not None
    ]
    return known, strangers


# --- output ----------------------------------------------------------------------------
def pct(part: int, whole: int) -> str:
    return "-" if whole == 0 else f"{100 * part / whole:.1f}% ({part})"


def sweep_table(scenario: Scenario) -> list[str]:
    lines = [
        "| threshold | known probes named right | named wrong | not named "
        "| strangers named (false alarms) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for t, (known, strangers) in scenario.sweep.items():
        lines.append(
            f"| {t:.3f} | {pct(known.right, known.total)} | {pct(known.wrong, known.total)} "
            f"| {pct(known.unknown + known.uncertain, known.total)} "
            f"| {pct(strangers.named, strangers.total)} |"
        )
    return lines


def defaults_table(scenario: Scenario, settings: Settings) -> list[str]:
    known, strangers = scenario.defaults
    return [
        f"Two thresholds, match {settings.match_threshold} / unknown {settings.unknown_threshold}:",
        "",
        "| probes | known, right person | known, wrong person | uncertain | unknown |",
        "|---|---:|---:|---:|---:|",
        f"| {known.total} known probes | {pct(known.right, known.total)} "
        f"| {pct(known.wrong, known.total)} | {pct(known.uncertain, known.total)} "
        f"| {pct(known.unknown, known.total)} |",
        f"| {strangers.total} strangers | - | {pct(strangers.named, strangers.total)} "
        f"| {pct(strangers.uncertain, strangers.total)} "
        f"| {pct(strangers.unknown, strangers.total)} |",
    ]


def scenario_markdown(s: Scenario, settings: Settings) -> list[str]:
    histogram = ", ".join(
        f"{n} {'person' if n == 1 else 'people'} with {k}" for k, n in s.template_histogram.items()
    )
    refused = ", ".join(f"{n} {reason}" for reason, n in s.refused.items()) or "none"
    d = s.distances
    return [
        f"### Up to {s.templates_per_person} enrolment photo(s) per person, margin weight "
        f"{s.margin_weight:g} (cap {s.margin_cap:g})",
        "",
        f"{s.templates} templates ({histogram}); enrolment photos refused by the gate on the "
        f"way: {refused}. Closed-set rank-1: {100 * s.rank1:.1f}%. Distance to the nearest "
        f"person: known probes named right by rank-1, median {d['known_right_median']:.3f}, "
        f"p90 {d['known_right_p90']:.3f}; strangers, p5 {d['stranger_p5']:.3f}, median "
        f"{d['stranger_median']:.3f}.",
        "",
        *sweep_table(s),
        "",
        *defaults_table(s, settings),
        "",
    ]


def markdown(report: dict[str, Any], scenarios: list[Scenario], settings: Settings) -> str:
    skipped = ", ".join(report["skipped"]) or "none"
    lines = [
        f"Gallery: {report['people']} people (seed {report['seed']}; skipped for want of a "
        f"usable enrolment photo: {skipped}). Known probes: {report['known_probes']} "
        f"({report['probes_without_face']} of {report['probe_photos']} probe photos gave no "
        f"face). Strangers: {report['stranger_probes']} ({report['strangers_without_face']} "
        f"of {report['stranger_photos']} photos gave no face).",
        "",
    ]
    for scenario in scenarios:
        lines += scenario_markdown(scenario, settings)
    lines += [f"Command: `{report['command']}`  ", f"Machine: {machine_line()}"]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100, help="enrolled people (100)")
    parser.add_argument("--strangers", type=int, default=100, help="strangers (100)")
    parser.add_argument("--seed", type=int, default=0, help="selection seed (0)")
    parser.add_argument(
        "--faces-dir",
        type=Path,
        default=None,
        help="one folder of JPEG photos per person (default: testdata lfw_devtrain/lfw)",
    )
    parser.add_argument(
        "--templates", type=int, nargs="+", default=[1, 3], help="photos per person (1 3)"
    )
    parser.add_argument(
        "--margin-weights",
        type=float,
        nargs="+",
        default=None,
        help="runner-up margin weights to compare (default: the configured margin_weight)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    if args.people < 1 or args.strangers < 1 or min(args.templates) < 1:
        parser.error("--people, --strangers and --templates must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    settings = Settings()
    analyzer = create_analyzer(settings)
    analyzer.warm_up()
    bank = FaceBank(analyzer, settings)
    faces_dir = args.faces_dir or testdata_dir() / LFW_DIR
    most = max(args.templates)
    selection = select(faces_dir, bank, args.people, args.strangers, args.seed, most)
    known, strangers = probes_of(bank, selection)
    weights = args.margin_weights or [settings.margin_weight]
    scenarios = [
        run_scenario(bank, selection.known, known + strangers, k, w, settings)
        for k in sorted(set(args.templates))
        for w in weights
    ]
    report: dict[str, Any] = {
        "command": " ".join(["python benchmarks/bench_open_set.py", *given]),
        "seed": args.seed,
        "people": len(selection.known),
        "skipped": selection.skipped,
        "probe_photos": PROBES_PER_PERSON * len(selection.known),
        "probes_without_face": PROBES_PER_PERSON * len(selection.known) - len(known),
        "known_probes": len(known),
        "stranger_photos": len(selection.strangers),
        "strangers_without_face": len(selection.strangers) - len(strangers),
        "stranger_probes": len(strangers),
        "match_threshold": settings.match_threshold,
        "unknown_threshold": settings.unknown_threshold,
    }
    if args.json:
        payload = {**report, "machine": machine(), "scenarios": [asdict(s) for s in scenarios]}
        print(json.dumps(payload, indent=2))
    else:
        print(markdown(report, scenarios, settings))


if __name__ == "__main__":
    main()
