"""Mode local: recognising faces on site against the gallery copy, by the server's rule.

The same pieces as the server: ``facewatch.gallery.Gallery`` (nearest template per person)
and ``facewatch.gallery.matching.assign`` (the open-set decision with the server's
thresholds, and never one person for two faces of one frame). The embeddings come from the
same embedder model; a copy made by another model is refused, since their distances mean
nothing to each other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facewatch.edge.gallery_copy import GalleryCopy
from facewatch.gallery.gallery import Gallery, TemplateEntry
from facewatch.gallery.matching import assign
from facewatch.types import Embedding, Match

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LocalMatch:
    """The on-site verdict for one face, with the person's category when named."""

    match: Match
    category: str | None
    version: str
    """The gallery copy that decided."""


class LocalRecognizer:
    """Matches embeddings against the newest usable gallery copy; thread-safe."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        self._lock = threading.Lock()
        self._state: tuple[GalleryCopy, Gallery] | None = None

    @property
    def ready(self) -> bool:
        """A gallery copy is in use."""
        return self._state is not None

    def use(self, copy: GalleryCopy) -> None:
        """Recognise with ``copy`` from now on (ignored, and logged, if of another model)."""
        if copy.model_id != self.model_id:
            logger.error(
                "the server's gallery holds %s embeddings but this agent makes %s: "
                "recognition on site is off",
                copy.model_id,
                self.model_id,
            )
            return
        gallery = Gallery(copy.model_id, copy.dim)
        gallery.add(
            TemplateEntry(int(tid), int(pid), copy.people[int(pid)].name, vector)
            for tid, pid, vector in zip(
                copy.template_ids, copy.template_people, copy.embeddings, strict=True
            )
        )
        with self._lock:
            self._state = (copy, gallery)

    def recognise(self, embeddings: Sequence[Embedding]) -> list[LocalMatch] | None:
        """Verdicts for the faces of one frame; None while no gallery copy is in use."""
        with self._lock:
            state = self._state
        if state is None or not embeddings:
            return None if state is None else []
        copy, gallery = state
        queries = np.stack([np.asarray(e, dtype=np.float32) for e in embeddings])
        candidates = (
            gallery.nearest_people(queries, copy.top_k)
            if len(gallery)
            else [[] for _ in embeddings]
        )
        return [
            LocalMatch(match, _category(copy, match), copy.version)
            for match in assign(candidates, copy.thresholds)
        ]


def _category(copy: GalleryCopy, match: Match) -> str | None:
    if match.person_id is None:
        return None
    person = copy.people.get(match.person_id)
    return person.category if person is not None else None
