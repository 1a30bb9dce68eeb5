"""Open-set decision rules with ONE enrolment photo per person, side by side (issue 8).

The protocol is the one of ``facewatch eval identify --lfw`` and bench_eval_identify.py
(lfw_devtrain, people in name order): people with at least 3 photos are enrolled with their
first photo and probed with the next two; the first 1,258 one-photo people (name order) are
the test strangers. The other one-photo people (1,596) are a **held-out cohort**: strangers
disjoint from the test strangers, as a server would collect from the unknowns it has seen.

What is compared, each at DIR (known probes named right) for FAR (strangers named) 0.1..10%:

* **templates**: the pipeline's one embedding per enrolment photo, or the mean (rescaled)
  of the embeddings of jittered copies of the chip (``facewatch.vision.augment``): the
  mirror image; the product's set ``ENROLMENT_JITTERS``; more and larger moves;
* **probes**: the pipeline's embedding, or the mean with the mirrored chip's (2x cost);
* **score rules** over each probe's distances to every enrolled person: the distance alone;
  the runner-up margin (the server's rule, matching.py); the ratio to the runner-up; gallery
  T-norm (distance minus a share of the mean of the next k people's); Z-scores over the
  gallery; probe-side T-norm against the held-out cohort; template-side Z-norm (each
  template's mean distance to its k nearest cohort faces); both (S-norm); and the margin
  applied on top of a normalised score.

Each rule's parameters are chosen on half of the people (and strangers) at FAR 1% and
measured on the other half (A->B and B->A), so the reported gain is not a fit to the test.

The expensive part (detect, align, cut the jittered chips, embed: ~5,000 photos, ~36,000
chips) is cached in ``--cache`` (default: the user cache dir); a second run takes seconds.

Run from the repository root:

    python benchmarks/bench_open_set_rules.py
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from _shared import machine_line, testdata_dir
from facewatch.config import Settings
from facewatch.errors import FacewatchError
from facewatch.evaluation.cli import default_cache_dir
from facewatch.evaluation.embeddings import pipeline_id
from facewatch.evaluation.identification import ScoredProbes
from facewatch.evaluation.protocol import images_in, lfw_protocol
from facewatch.types import Face
from facewatch.vision.augment import ENROLMENT_JITTERS, IDENTITY, Jitter, jittered_chips
from facewatch.vision.image import load_image
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

Array = npt.NDArray[np.float64]
FARS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1)
err = Console(stderr=True)

_MOVED = ENROLMENT_JITTERS[2:]
LARGE = (
    Jitter(dx=-8),
    Jitter(dx=8),
    Jitter(dy=-8),
    Jitter(dy=8),
    Jitter(scale=0.85),
    Jitter(scale=1.15),
    Jitter(degrees=-12),
    Jitter(degrees=12),
)
ENROL_CHIPS: tuple[Jitter, ...] = (
    *ENROLMENT_JITTERS,
    *(Jitter(True, j.dx, j.dy, j.scale, j.degrees) for j in _MOVED),
    *LARGE,
    *(Jitter(True, j.dx, j.dy, j.scale, j.degrees) for j in LARGE),
)
"""Every chip embedded per enrolment photo; the template variants pick subsets."""
PROBE_CHIPS = (IDENTITY, Jitter(flip=True))

_N = len(ENROLMENT_JITTERS)
TEMPLATES: dict[str, list[int]] = {
    "pipeline (1 chip)": [],  # the pipeline's own embedding
    "mirror (2)": [0, 1],
    f"ENROLMENT_JITTERS ({_N})": list(range(_N)),
    f"small moves, both mirrors ({_N + len(_MOVED)})": list(range(_N + len(_MOVED))),
    f"+ large moves ({len(ENROL_CHIPS)})": list(range(len(ENROL_CHIPS))),
}


# ---- embeddings (cached) ----------------------------------------------------------------


@dataclass
class Faces:
    """Per photo: the pipeline's embedding and the jittered chips' embeddings (NaN: no face)."""

    base: Array  # (N, dim)
    jitter: Array  # (N, J, dim)


def central(faces: list[Face], width: int, height: int) -> Face | None:
    if not faces:
        return None

    def offset(face: Face) -> float:
        x = (face.box.left + face.box.right) / 2 - width / 2
        y = (face.box.top + face.box.bottom) / 2 - height / 2
        return x * x + y * y

    return min(faces, key=offset)


def embed_group(
    paths: list[Path], jitters: tuple[Jitter, ...], analyzer: FaceAnalyzer, max_pixels: int
) -> Faces:
    dim = analyzer.embedding_dim
    base = np.full((len(paths), dim), np.nan)
    jit = np.full((len(paths), len(jitters), dim), np.nan)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err) as progress:
        task = progress.add_task(f"{len(jitters)} chips/photo", total=len(paths))
        for i, path in enumerate(paths):
            progress.advance(task)
            try:
                image = load_image(path, max_pixels=max_pixels)
            except FacewatchError:
                continue
            face = central(analyzer.analyze(image), image.shape[1], image.shape[0])
            if face is None or face.embedding is None:
                continue
            base[i] = face.embedding
            chips = jittered_chips(image, face.box, face.landmarks, jitters)
            jit[i] = analyzer.embedder.embed(chips)
    return Faces(base, jit)


def load_faces(
    cache: Path, groups: dict[str, tuple[list[Path], tuple[Jitter, ...]]], analyzer: FaceAnalyzer
) -> dict[str, Faces]:
    """Every group's faces: from ``cache`` for a group of exactly these photos and chips."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    if cache.is_file():
        with np.load(cache) as data:
            arrays = {key: data[key] for key in data.files}
    out = {}
    for name, (paths, jitters) in groups.items():
        key = np.array([str(p) for p in paths] + [repr(j) for j in jitters])
        if f"{name}_key" in arrays and np.array_equal(arrays[f"{name}_key"], key):
            out[name] = Faces(arrays[f"{name}_base"], arrays[f"{name}_jitter"])
            continue
        err.print(f"embedding {name}: {len(paths)} photos")
        out[name] = embed_group(paths, jitters, analyzer, Settings().max_image_pixels)
        arrays.update(
            {f"{name}_key": key, f"{name}_base": out[name].base, f"{name}_jitter": out[name].jitter}
        )
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **arrays)
    return out


# ---- templates and score rules ---------------------------------------------------------


def mean_rescaled(vectors: Array) -> Array:
    """Mean over axis 1 of (N, J, dim), scaled to the mean length of the J vectors."""
    mean = vectors.mean(axis=1)
    target = np.linalg.norm(vectors, axis=2).mean(axis=1)
    return mean * (target / np.linalg.norm(mean, axis=1))[:, None]


def template_set(faces: Faces, chips: list[int]) -> Array:
    return faces.base if not chips else mean_rescaled(faces.jitter[:, chips])


def distances(a: Array, b: Array) -> Array:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


@dataclass
class Setup:
    """Distances of known probes and strangers to each enrolled person, and the cohort's."""

    known: Array  # (P, G), NaN rows: no face
    right: npt.NDArray[np.intp]  # (P,) column of the probe's own person
    strangers: Array  # (S, G)
    probe_cohort: Array  # (P, max k) known probes to their nearest cohort faces, sorted
    stranger_cohort: Array  # (S, max k)
    template_cohort: Array  # (G, C) sorted along C
    template_gallery: Array  # (G, G-1) sorted: each template to the other people


Rule = Callable[[Array, Array, Array], Array]
"""(distances to the gallery, probes to the cohort, templates to cohort) -> (N, G) scores."""


def decide(scores: Array, margin: tuple[float, float] | None) -> tuple[npt.NDArray[np.intp], Array]:
    """The person chosen (lowest score) and the final score, with the optional margin."""
    best = np.argmin(scores, axis=1)
    two = np.partition(scores, 1, axis=1)
    s1 = two[:, 0]
    if margin is not None:
        weight, cap = margin
        lead = np.minimum(two[:, 1] - s1, cap)
        s1 = s1 + weight * (cap - lead)
    return best, s1


def scored(
    setup: Setup,
    rule: Rule,
    margin: tuple[float, float] | None,
    keep_p: npt.NDArray[np.bool_],
    keep_s: npt.NDArray[np.bool_],
) -> ScoredProbes:
    known = setup.known[keep_p]
    ok = ~np.isnan(known[:, 0])
    best, s = decide(
        np.nan_to_num(rule(known, setup.probe_cohort[keep_p], setup.template_cohort), nan=np.inf),
        margin,
    )
    right = (best == setup.right[keep_p]) & ok
    s = np.where(ok, s, np.inf)
    strangers = setup.strangers[keep_s]
    ok_s = ~np.isnan(strangers[:, 0])
    _, u = decide(
        np.nan_to_num(
            rule(strangers, setup.stranger_cohort[keep_s], setup.template_cohort), nan=np.inf
        ),
        margin,
    )
    u = np.where(ok_s, u, np.inf)
    return ScoredProbes(right, s, u)


def plain(d: Array, pc: Array, tc: Array) -> Array:
    return d


def ratio(d: Array, pc: Array, tc: Array) -> Array:
    second = np.partition(d, 1, axis=1)[:, 1:2]
    return d / second


def gallery_tnorm(k: int, a: float) -> Rule:
    """Distance minus ``a`` x the mean distance of the k next nearest people."""

    def rule(d: Array, pc: Array, tc: Array) -> Array:
        nearest = np.sort(d, axis=1)[:, 1 : k + 1].mean(axis=1, keepdims=True)
        return d - a * nearest

    return rule


def gallery_z(k: int) -> Rule:
    def rule(d: Array, pc: Array, tc: Array) -> Array:
        near = np.sort(d, axis=1)[:, 1 : k + 1]
        return (d - near.mean(1, keepdims=True)) / near.std(1, keepdims=True)

    return rule


def cohort_tnorm(k: int, a: float) -> Rule:
    """Distance minus ``a`` x the probe's mean distance to its k nearest cohort faces."""

    def rule(d: Array, pc: Array, tc: Array) -> Array:
        return d - a * pc[:, :k].mean(1, keepdims=True)

    return rule


def cohort_znorm(k: int, a: float) -> Rule:
    """Distance minus ``a`` x each template's mean distance to its k nearest cohort faces."""

    def rule(d: Array, pc: Array, tc: Array) -> Array:
        return d - a * tc[:, :k].mean(1)[None, :]

    return rule


def cohort_snorm(k: int, a: float) -> Rule:
    def rule(d: Array, pc: Array, tc: Array) -> Array:
        probe = pc[:, :k].mean(1, keepdims=True)
        return d - a * (probe + tc[:, :k].mean(1)[None, :]) / 2

    return rule


def gallery_znorm(setup: Setup, k: int, a: float) -> Rule:
    """Template side, cohort = the other enrolled people (no external faces)."""
    means = setup.template_gallery[:, :k].mean(1)[None, :]

    def rule(d: Array, pc: Array, tc: Array) -> Array:
        return d - a * means

    return rule


MARGINS = [None] + [(w, c) for w in (0.5, 1.0, 2.0) for c in (0.05, 0.1, 0.2)]
KS = (1, 3, 10, 30)
SHARES = (0.25, 0.5, 0.75, 1.0)


def families(setup: Setup) -> dict[str, list[tuple[str, Rule, tuple[float, float] | None]]]:
    """Rule families, each a grid of (label, rule, margin) tuned as one."""

    def grid(
        make: Callable[[int, float], Rule],
        name: str,
        margins: Iterable[tuple[float, float] | None] = (None,),
    ) -> list[tuple[str, Rule, tuple[float, float] | None]]:
        return [
            (f"{name} k {k} a {a}" + (f" margin {m[0]}/{m[1]}" if m else ""), make(k, a), m)
            for k, a, m in itertools.product(KS, SHARES, margins)
        ]

    server = (1.0, 0.1)
    return {
        "distance alone": [("distance", plain, None)],
        "runner-up margin 1/0.1 (server)": [("margin 1/0.1", plain, server)],
        "runner-up margin, tuned": [(f"margin {m[0]}/{m[1]}", plain, m) for m in MARGINS if m],
        "ratio to runner-up": [("ratio", ratio, None)],
        "gallery T-norm": grid(gallery_tnorm, "gallery T-norm"),
        "gallery Z-score": [(f"gallery z k {k}", gallery_z(k), None) for k in (10, 30, 100)],
        "gallery template Z-norm": grid(lambda k, a: gallery_znorm(setup, k, a), "gallery Z-norm"),
        "gallery template Z-norm + margin": grid(
            lambda k, a: gallery_znorm(setup, k, a), "gallery Z-norm", MARGINS[1:]
        ),
        "cohort T-norm (probe)": grid(cohort_tnorm, "cohort T-norm"),
        "cohort Z-norm (template)": grid(cohort_znorm, "cohort Z-norm"),
        "cohort S-norm": grid(cohort_snorm, "cohort S-norm"),
        "cohort T-norm + margin": grid(cohort_tnorm, "cohort T-norm", MARGINS[1:]),
        "cohort S-norm + margin": grid(cohort_snorm, "cohort S-norm", MARGINS[1:]),
    }


# ---- the run ---------------------------------------------------------------------------


def build_setup(
    templates: Array, probes: Array, strangers: Array, cohort: Array, probe_people: list[int]
) -> tuple[Setup, npt.NDArray[np.bool_]]:
    enrolled = ~np.isnan(templates[:, 0])
    column = np.cumsum(enrolled) - 1
    g = templates[enrolled]
    cohort = cohort[~np.isnan(cohort[:, 0])]
    right = np.array([column[p] if enrolled[p] else -1 for p in probe_people], dtype=np.intp)
    tg = distances(g, g)
    np.fill_diagonal(tg, np.inf)
    setup = Setup(
        known=distances(probes, g),
        right=right,
        strangers=distances(strangers, g),
        probe_cohort=np.sort(distances(probes, cohort), axis=1)[:, : max(KS)],
        stranger_cohort=np.sort(distances(strangers, cohort), axis=1)[:, : max(KS)],
        template_cohort=np.sort(distances(g, cohort), axis=1),
        template_gallery=np.sort(tg, axis=1)[:, :-1],
    )
    return setup, enrolled


def row(name: str, s: ScoredProbes) -> str:
    rates = " | ".join(f"{s.dir_at_far(f):.3f}" for f in FARS)
    return f"| {name} | {s.rank1:.3f} | {rates} |"


HEADLINE: dict[str, tuple[Rule, tuple[float, float] | None]] = {
    "distance alone": (plain, None),
    "runner-up margin 1/0.1 (server default)": (plain, (1.0, 0.1)),
    "runner-up margin 2/0.2": (plain, (2.0, 0.2)),
    "cohort S-norm, k 30, a 1": (cohort_snorm(30, 1.0), None),
    "cohort S-norm, k 10, a 0.75": (cohort_snorm(10, 0.75), None),
}
"""Fixed rules whose whole curve is printed (chosen on half A or both halves, see the tables)."""


@dataclass
class Split:
    """Which known probes and strangers are in half A (the others are in half B)."""

    probes: npt.NDArray[np.bool_]
    strangers: npt.NDArray[np.bool_]

    def other(self) -> Split:
        return Split(~self.probes, ~self.strangers)

    def everyone(self) -> Split:
        return Split(np.ones_like(self.probes), np.ones_like(self.strangers))


def tuned_table(setup: Setup, half_a: Split) -> list[str]:
    """Each rule family tuned on one half at FAR 1% and measured on the other."""
    lines = [
        "| rule family | tuned on A: DIR@1% on B | tuned on B: DIR@1% on A | chosen on A (on B) "
        "| whole set, A's choice: DIR@0.1% / 1% / 5% |",
        "|---|---|---|---|---|",
    ]
    for family, grid in families(setup).items():
        picks = []
        for tune in (half_a, half_a.other()):
            check = tune.other()

            def at_1(r: tuple[str, Rule, tuple[float, float] | None], on: Split = tune) -> float:
                return scored(setup, r[1], r[2], on.probes, on.strangers).dir_at_far(0.01)

            best = max(grid, key=at_1)
            picks.append((best[0], at_1(best, check)))
        best_a = next(r for r in grid if r[0] == picks[0][0])
        whole = half_a.everyone()
        full = scored(setup, best_a[1], best_a[2], whole.probes, whole.strangers)
        rates = " / ".join(f"{full.dir_at_far(f):.3f}" for f in (0.001, 0.01, 0.05))
        lines.append(
            f"| {family} | {picks[0][1]:.3f} | {picks[1][1]:.3f} "
            f"| {picks[0][0]} ({picks[1][0]}) | {rates} |"
        )
    return lines


def headline_table(setups: dict[str, Setup], whole: Split) -> list[str]:
    fars = " | ".join(f"DIR@{f:g}" for f in FARS)
    lines = [f"| templates, probes, rule | rank-1 | {fars} |", "|---|---|" + "---|" * len(FARS)]
    for label, setup in setups.items():
        for name, (rule, margin) in HEADLINE.items():
            result = scored(setup, rule, margin, whole.probes, whole.strangers)
            lines.append(row(f"{label}, {name}", result))
    return lines


@dataclass
class Photos:
    """The protocol's photos, in order, and who each probe is."""

    names: list[str]
    groups: dict[str, tuple[list[Path], tuple[Jitter, ...]]]
    probe_people: list[int]
    half_a: Split


def photos(lfw: Path) -> Photos:
    protocol = lfw_protocol(lfw, enrolled=1, probes=2)
    names = list(protocol.gallery)
    singles = [
        images_in(p)[0] for p in sorted(lfw.iterdir()) if p.is_dir() and len(images_in(p)) == 1
    ]
    test_strangers = set(protocol.unknown)
    groups = {
        "gallery": ([protocol.gallery[n][0] for n in names], ENROL_CHIPS),
        "probes": ([p for _, p in protocol.probes], PROBE_CHIPS),
        "strangers": (list(protocol.unknown), PROBE_CHIPS),
        "cohort": ([p for p in singles if p not in test_strangers], PROBE_CHIPS),
    }
    index = {n: i for i, n in enumerate(names)}
    half_a = Split(
        np.array([index[n] % 2 == 0 for n, _ in protocol.probes]),
        np.arange(len(protocol.unknown)) % 2 == 0,
    )
    return Photos(names, groups, [index[n] for n, _ in protocol.probes], half_a)


PROBES: dict[str, Callable[[Faces], Array]] = {
    "probe: pipeline": lambda f: f.base,
    "probe: + mirror (2x cost)": lambda f: mean_rescaled(f.jitter[:, [0, 1]]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=None, help="Embedding cache file (.npz).")
    args = parser.parse_args()
    started = time.perf_counter()
    analyzer = create_analyzer(Settings())
    found = photos(testdata_dir() / "lfw_devtrain" / "lfw")
    cache = args.cache or default_cache_dir() / f"open_set_rules-{pipeline_id(analyzer)}.npz"
    faces = load_faces(cache, found.groups, analyzer)
    embed_time = time.perf_counter() - started
    print(f"# Open-set rules, 1 enrolment photo, LFW DevTrain ({pipeline_id(analyzer)})")
    print(f"machine: {machine_line()}")
    counts = ", ".join(f"{len(paths)} {name}" for name, (paths, _) in found.groups.items())
    print(f"{counts} photos; embeddings {embed_time:.0f} s (cache {cache})")
    headline: dict[str, Setup] = {}
    for (tname, chips), (pname, probe_of) in itertools.product(TEMPLATES.items(), PROBES.items()):
        setup, _ = build_setup(
            template_set(faces["gallery"], chips),
            probe_of(faces["probes"]),
            probe_of(faces["strangers"]),
            probe_of(faces["cohort"]),
            found.probe_people,
        )
        if not chips or len(chips) == len(ENROLMENT_JITTERS):
            headline[f"{tname}, {pname.removeprefix('probe: ')}"] = setup
        print(f"\n## templates: {tname}; {pname}\n")
        print("\n".join(tuned_table(setup, found.half_a)))
    print("\n## Whole curves (all 1,258 probes and strangers), fixed rules\n")
    print("\n".join(headline_table(headline, found.half_a.everyone())))
    print(f"\nrun time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
