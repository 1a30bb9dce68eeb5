"""The in-memory gallery: every enrolled template, searchable per person."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from facewatch.gallery.index import ExactIndex, FloatMatrix, VectorIndex
from facewatch.types import Candidate, Embedding


@dataclass(frozen=True, slots=True)
class TemplateEntry:
    """One template as the gallery needs it: ids, owner's name and the embedding."""

    template_id: int
    person_id: int
    name: str
    embedding: Embedding


class Gallery:
    """Templates of enrolled people over a vector index; answers "who is nearest?" per person.

    A person's distance to a face is the distance of their nearest template, so several
    templates per person (different lighting, glasses, ages) raise recall without retraining.
    Changes take effect at once; the gallery is safe to share between threads.
    """

    def __init__(self, model_id: str, dim: int, index: VectorIndex | None = None) -> None:
        self.model_id = model_id
        self.dim = dim
        self._index = index if index is not None else ExactIndex(dim)
        self._lock = threading.RLock()
        self._owner: dict[int, int] = {}  # template id -> person id
        self._names: dict[int, str] = {}  # person id -> name
        self._templates: dict[int, set[int]] = {}  # person id -> template ids

    def __len__(self) -> int:
        """Number of templates."""
        return len(self._owner)

    @property
    def people_count(self) -> int:
        return len(self._templates)

    def add(self, entries: Iterable[TemplateEntry]) -> None:
        """Add templates (a template id seen before is replaced)."""
        batch = list(entries)
        if not batch:
            return
        ids = np.array([e.template_id for e in batch], dtype=np.int64)
        vectors = np.stack([np.asarray(e.embedding, dtype=np.float32) for e in batch])
        with self._lock:
            self._index.add(ids, vectors)
            for entry in batch:
                self._owner[entry.template_id] = entry.person_id
                self._names[entry.person_id] = entry.name
                self._templates.setdefault(entry.person_id, set()).add(entry.template_id)

    def remove_person(self, person_id: int) -> int:
        """Forget every template of a person; returns how many were removed."""
        with self._lock:
            template_ids = self._templates.pop(person_id, set())
            self._names.pop(person_id, None)
            for template_id in template_ids:
                self._owner.pop(template_id, None)
            return self._index.remove(template_ids)

    def remove_templates(self, template_ids: Iterable[int]) -> int:
        """Forget some templates; a person left with none leaves the gallery."""
        with self._lock:
            removed = []
            for template_id in template_ids:
                person_id = self._owner.pop(template_id, None)
                if person_id is None:
                    continue
                removed.append(template_id)
                owned = self._templates[person_id]
                owned.discard(template_id)
                if not owned:
                    del self._templates[person_id]
                    self._names.pop(person_id, None)
            return self._index.remove(removed)

    def rename(self, person_id: int, name: str) -> None:
        with self._lock:
            if person_id in self._names:
                self._names[person_id] = name

    def nearest_people(self, embeddings: FloatMatrix, k: int) -> list[list[Candidate]]:
        """For each embedding, the ``k`` nearest people (by nearest template), nearest first."""
        queries = np.asarray(embeddings, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            # Enough templates to cover k distinct people even when people have many templates.
            k_templates = min(len(self._owner), max(k * 8, 32))
            distances, ids = self._index.search(queries, max(k_templates, 1))
            owner, names = dict(self._owner), dict(self._names)
        results: list[list[Candidate]] = []
        for row_dist, row_ids in zip(distances, ids, strict=True):
            best: dict[int, float] = {}
            for distance, template_id in zip(row_dist, row_ids, strict=True):
                person_id = owner.get(int(template_id))
                if person_id is not None and person_id not in best:
                    best[person_id] = float(distance)
                    if len(best) == k:
                        break
            results.append([Candidate(pid, names[pid], d) for pid, d in best.items()])
        return results
