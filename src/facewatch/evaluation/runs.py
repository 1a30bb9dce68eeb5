"""The evaluation runs behind ``facewatch eval``: embed through the real pipeline, then measure.

Faces come from ``embed_images`` (cached); enrolment photos become templates as the server
makes them (jittered copies when ``enrolment_jitter`` is on); the gallery is Facewatch's own
``Gallery`` and the decision at the server's defaults is ``matching.assign``, so the figures
describe what the server does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from facewatch.evaluation.embeddings import EmbeddingCache, ImageFaces, embed_images
from facewatch.evaluation.identification import (
    REPORTED_FARS,
    ScoredProbes,
    nearest_distance,
    score_probes,
)
from facewatch.evaluation.protocol import IdentificationSet
from facewatch.evaluation.svm import ACCEPT_PROBABILITY, SvmBaseline
from facewatch.evaluation.verification import (
    VerificationResult,
    evaluate_pairs,
    pair_distances,
    read_pairs,
)
from facewatch.gallery.gallery import Gallery, TemplateEntry
from facewatch.gallery.matching import Thresholds, assign, decision_score
from facewatch.types import Candidate, Embedding, MatchStatus
from facewatch.vision.pipeline import FaceAnalyzer

logger = logging.getLogger(__name__)


class Tracker(Protocol):
    """Progress of the embedding step (a rich progress bar in the CLI)."""

    def start(self, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


CANDIDATES = 10
"""People kept per probe: enough for any rule that looks past the best one."""


@dataclass(frozen=True, slots=True)
class Embedder:
    """What a run needs to turn image files into faces: the pipeline, its cache, a limit."""

    analyzer: FaceAnalyzer
    cache: EmbeddingCache
    max_pixels: int
    enrolment: EmbeddingCache | None = None
    """Cache of enrolment templates from jittered copies (the server's ``enrolment_jitter``);
    ``None``: a template is the photo's plain embedding."""

    def faces(self, paths: Sequence[Path], tracker: Tracker | None) -> dict[Path, ImageFaces]:
        """The faces of every image (cached ones read, the others embedded and cached)."""
        return self._embed(paths, tracker, self.cache, enrolment=False)

    def enrolment_faces(
        self, paths: Sequence[Path], tracker: Tracker | None
    ) -> dict[Path, ImageFaces]:
        """The faces of enrolment photos, each face's vector its template as the server enrols."""
        if self.enrolment is None:
            return self.faces(paths, tracker)
        return self._embed(paths, tracker, self.enrolment, enrolment=True)

    def _embed(
        self,
        paths: Sequence[Path],
        tracker: Tracker | None,
        cache: EmbeddingCache,
        *,
        enrolment: bool,
    ) -> dict[Path, ImageFaces]:
        if tracker is not None:
            tracker.start(len(paths))
        return embed_images(
            paths,
            self.analyzer,
            cache,
            max_pixels=self.max_pixels,
            advance=None if tracker is None else tracker.advance,
            enrolment=enrolment,
        )


def run_verification(
    pairs_file: Path, images: Path, embedder: Embedder, tracker: Tracker | None = None
) -> VerificationResult:
    """The LFW verification protocol on ``pairs_file`` through the real pipeline."""
    pairs = read_pairs(pairs_file, images)
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.first, pair.second)))
    faces = embedder.faces(paths, tracker)
    central = {path: found.central() for path, found in faces.items()}
    distances = pair_distances(pairs, central)
    return evaluate_pairs(distances, [p.same for p in pairs], [p.fold for p in pairs])


@dataclass(frozen=True, slots=True)
class AtDefaults:
    """What the server's decision (default thresholds, ``assign``) does with each probe."""

    known_right: float
    known_wrong: float
    known_uncertain: float
    strangers_named: float
    strangers_uncertain: float


@dataclass(frozen=True, slots=True)
class IdentificationReport:
    """Open-set identification: curves per rule, and the server's decision at its defaults."""

    people: int
    templates: int
    probes: int
    unknown: int
    probes_without_face: int
    unknown_without_face: int
    rules: dict[str, ScoredProbes]
    at_defaults: AtDefaults
    svm_at_08: tuple[float, float] | None = None
    """The SVM at probability 0.8: (known probes named right, strangers named)."""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """The JSON summary the CLI prints last (Facewatch's rule)."""
        ours = self.rules["facewatch"]
        return {
            "rank1": round(ours.rank1, 4),
            "dir_at_far": {str(far): round(ours.dir_at_far(far), 4) for far in REPORTED_FARS},
            "known_right_at_default": round(self.at_defaults.known_right, 4),
            "strangers_named_at_default": round(self.at_defaults.strangers_named, 4),
            "probes": self.probes,
            "unknown": self.unknown,
        }


def run_identification(
    protocol: IdentificationSet,
    embedder: Embedder,
    thresholds: Thresholds,
    *,
    svm: bool = False,
    tracker: Tracker | None = None,
) -> IdentificationReport:
    """Enrol the gallery, identify every probe and stranger, and score each rule."""
    faces = embedder.faces(protocol.images, tracker)
    templates = embedder.enrolment_faces(enrolment_photos(protocol), tracker)
    found = candidates_for(protocol, faces, embedder.analyzer, templates)
    gallery, names, known, strangers = found.gallery, found.enrolled, found.known, found.strangers
    rules = {
        "nearest neighbour": score_probes(known, strangers, nearest_distance),
        "facewatch": score_probes(
            known, strangers, lambda cands: decision_score(cands, thresholds)
        ),
    }
    svm_at_08 = None
    if svm:
        rules["SVM (older design)"], svm_at_08 = svm_rule(protocol, faces, names)
    return IdentificationReport(
        people=gallery.people_count,
        templates=len(gallery),
        probes=len(known),
        unknown=len(strangers),
        probes_without_face=sum(1 for _, c in known if c is None),
        unknown_without_face=sum(1 for c in strangers if c is None),
        rules=rules,
        at_defaults=at_defaults(known, strangers, thresholds),
        svm_at_08=svm_at_08,
    )


@dataclass(frozen=True, slots=True)
class Candidates:
    """The enrolled gallery and every probe's candidates (``None``: no face in the probe)."""

    gallery: Gallery
    enrolled: list[tuple[str, Embedding]]
    known: list[tuple[str, list[Candidate] | None]]
    strangers: list[list[Candidate] | None]


def enrolment_photos(protocol: IdentificationSet) -> list[Path]:
    """Every gallery photo, each once."""
    return list(dict.fromkeys(p for photos in protocol.gallery.values() for p in photos))


def candidates_for(
    protocol: IdentificationSet,
    faces: dict[Path, ImageFaces],
    analyzer: FaceAnalyzer,
    templates: dict[Path, ImageFaces] | None = None,
) -> Candidates:
    """Enrol the gallery photos and search the gallery for every probe and stranger.

    ``templates``: the gallery photos' faces as enrolled (``Embedder.enrolment_faces``);
    default: their plain embeddings in ``faces``.
    """
    gallery, enrolled = _enrol(protocol, faces if templates is None else templates, analyzer)
    return Candidates(
        gallery,
        enrolled,
        [(name, _candidates(gallery, faces[path])) for name, path in protocol.probes],
        [_candidates(gallery, faces[path]) for path in protocol.unknown],
    )


def _enrol(
    protocol: IdentificationSet, faces: dict[Path, ImageFaces], analyzer: FaceAnalyzer
) -> tuple[Gallery, list[tuple[str, Embedding]]]:
    """A gallery of every enrolment photo with a face; also the (name, embedding) list."""
    gallery = Gallery(analyzer.model_id, analyzer.embedding_dim)
    enrolled: list[tuple[str, Embedding]] = []
    entries: list[TemplateEntry] = []
    for person_id, (name, photos) in enumerate(protocol.gallery.items()):
        for photo in photos:
            vector = faces[photo].central()
            if vector is not None:
                entries.append(TemplateEntry(len(entries), person_id, name, vector))
                enrolled.append((name, vector))
    gallery.add(entries)
    logger.info("enrolled %d templates of %d people", len(gallery), gallery.people_count)
    return gallery, enrolled


def _candidates(gallery: Gallery, faces: ImageFaces) -> list[Candidate] | None:
    vector = faces.central()
    if vector is None:
        return None
    [candidates] = gallery.nearest_people(vector[None, :], CANDIDATES)
    return candidates


def at_defaults(
    known: Sequence[tuple[str, Sequence[Candidate] | None]],
    strangers: Sequence[Sequence[Candidate] | None],
    thresholds: Thresholds,
) -> AtDefaults:
    def verdict(candidates: Sequence[Candidate] | None) -> tuple[MatchStatus, str | None]:
        if not candidates:
            return MatchStatus.UNKNOWN, None
        [match] = assign([candidates], thresholds)
        return match.status, match.name

    known_verdicts = [(name, *verdict(c)) for name, c in known]
    stranger_verdicts = [verdict(c)[0] for c in strangers]
    n_known, n_strangers = max(len(known), 1), max(len(strangers), 1)
    return AtDefaults(
        known_right=sum(s is MatchStatus.KNOWN and g == n for n, s, g in known_verdicts) / n_known,
        known_wrong=sum(s is MatchStatus.KNOWN and g != n for n, s, g in known_verdicts) / n_known,
        known_uncertain=sum(s is MatchStatus.UNCERTAIN for _, s, _ in known_verdicts) / n_known,
        strangers_named=stranger_verdicts.count(MatchStatus.KNOWN) / n_strangers,
        strangers_uncertain=stranger_verdicts.count(MatchStatus.UNCERTAIN) / n_strangers,
    )


def svm_rule(
    protocol: IdentificationSet,
    faces: dict[Path, ImageFaces],
    enrolled: list[tuple[str, Embedding]],
) -> tuple[ScoredProbes, tuple[float, float]]:
    """The SVM's curve (score: 1 - probability) and its verdicts at probability 0.8."""
    model = SvmBaseline().fit(np.stack([v for _, v in enrolled]), [n for n, _ in enrolled])

    def scores(paths: Sequence[Path]) -> tuple[list[str | None], np.ndarray]:
        vectors = [faces[p].central() for p in paths]
        found = [i for i, v in enumerate(vectors) if v is not None]
        names: list[str | None] = [None] * len(paths)
        out = np.full(len(paths), np.inf)
        if found:
            predicted = model.predict(np.stack([vectors[i] for i in found]))  # type: ignore[misc]
            for i, name, probability in zip(
                found, predicted.names, predicted.probabilities, strict=True
            ):
                names[i], out[i] = name, 1.0 - probability
        return names, out

    known_names, known_scores = scores([p for _, p in protocol.probes])
    right = np.array(
        [g == n for (n, _), g in zip(protocol.probes, known_names, strict=True)], dtype=bool
    )
    _, stranger_scores = scores(protocol.unknown)
    scored = ScoredProbes(right, known_scores, stranger_scores)
    cut = 1.0 - ACCEPT_PROBABILITY
    at_08 = (
        float((right & (known_scores <= cut)).mean()) if right.shape[0] else 0.0,
        float((stranger_scores <= cut).mean()) if stranger_scores.shape[0] else 0.0,
    )
    return scored, at_08
