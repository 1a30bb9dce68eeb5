"""The in-memory gallery: every enrolled template, searchable per person, saved as a snapshot."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facewatch.gallery.index import (
    FloatMatrix,
    IndexConfig,
    IndexFileError,
    VectorIndex,
    create_index,
    read_index,
)
from facewatch.gallery.snapshot import replacing_folder
from facewatch.types import Candidate, Embedding

logger = logging.getLogger(__name__)

_MANIFEST = "gallery.json"
_INDEX_DIR = "index"
_TEMPLATES = "templates.npy"
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """A template as the database lists it, without its embedding (for ``Gallery.sync``)."""

    template_id: int
    person_id: int
    name: str


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What ``Gallery.sync`` changed."""

    added: int
    removed: int
    renamed: int


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
        self._index = index if index is not None else create_index(dim)
        self._lock = threading.RLock()
        self._owner: dict[int, int] = {}  # template id -> person id
        self._names: dict[int, str] = {}  # person id -> name
        self._templates: dict[int, set[int]] = {}  # person id -> template ids
        self.snapshot_meta: dict[str, Any] = {}
        """What the caller stored with the snapshot this gallery was loaded from (``save``)."""

    def __len__(self) -> int:
        """Number of templates."""
        return len(self._owner)

    @property
    def people_count(self) -> int:
        return len(self._templates)

    def person_ids(self) -> set[int]:
        """The people with at least one template here."""
        with self._lock:
            return set(self._templates)

    @property
    def index(self) -> VectorIndex:
        """The vector index under the gallery."""
        return self._index

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
            return [
                self._people(row_dist, row_ids, k)
                for row_dist, row_ids in zip(distances, ids, strict=True)
            ]

    def _people(self, distances: FloatMatrix, ids: np.ndarray, k: int) -> list[Candidate]:
        """The first ``k`` distinct people among one query's nearest templates."""
        best: dict[int, float] = {}
        for distance, template_id in zip(distances.tolist(), ids.tolist(), strict=True):
            person_id = self._owner.get(template_id)
            if person_id is not None and person_id not in best:
                best[person_id] = distance
                if len(best) == k:
                    break
        return [Candidate(pid, self._names[pid], d) for pid, d in best.items()]

    # --- snapshots ---------------------------------------------------------------------
    def save(self, folder: Path, meta: Mapping[str, Any] | None = None) -> None:
        """Write a snapshot (index, owners, names) that ``Gallery.load`` reads back fast.

        ``meta`` (JSON) is kept with it and comes back as ``snapshot_meta``. The folder is
        replaced whole: a reader sees the previous snapshot or this one. Every file's
        SHA-256 goes in the manifest, so a damaged file is refused before it is parsed.
        """
        with self._lock, replacing_folder(folder) as staging:
            (staging / _INDEX_DIR).mkdir()
            self._index.write(staging / _INDEX_DIR)
            table = np.array(list(self._owner.items()), dtype=np.int64).reshape(-1, 2)
            np.save(staging / _TEMPLATES, table)
            manifest = {
                "model_id": self.model_id,
                "dim": self.dim,
                "templates": len(self._owner),
                "names": {str(pid): name for pid, name in self._names.items()},
                "meta": dict(meta or {}),
                "files": _digests(staging),
            }
            (staging / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        logger.info("gallery snapshot saved: %d templates in %s", len(table), folder)

    @classmethod
    def load(
        cls, folder: Path, model_id: str, dim: int, config: IndexConfig | None = None
    ) -> Gallery:
        """The gallery saved in ``folder``; ``IndexFileError`` if it is missing, incomplete,
        damaged or made by another model (then rebuild from the database and ``save`` again)."""
        try:
            manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
            names = {int(pid): str(name) for pid, name in manifest["names"].items()}
            files, meta = dict(manifest["files"]), dict(manifest.get("meta") or {})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IndexFileError(f"no complete gallery snapshot in {folder}: {exc}") from exc
        if manifest.get("model_id") != model_id or manifest.get("dim") != dim:
            raise IndexFileError(
                f"the snapshot in {folder} holds {manifest.get('model_id')} embeddings, "
                f"not {model_id}"
            )
        if _digests(folder, exclude=_MANIFEST) != files:
            raise IndexFileError(f"the snapshot in {folder} is damaged (checksums differ)")
        try:
            table = np.load(folder / _TEMPLATES, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexFileError(f"cannot read the snapshot in {folder}: {exc}") from exc
        index = read_index(folder / _INDEX_DIR, dim, config)
        if len(index) != table.shape[0]:
            raise IndexFileError(f"the snapshot in {folder} is inconsistent")
        gallery = cls(model_id, dim, index)
        gallery._restore(table, names)
        gallery.snapshot_meta = meta
        return gallery

    def _restore(self, table: np.ndarray, names: dict[int, str]) -> None:
        self._owner = dict(zip(table[:, 0].tolist(), table[:, 1].tolist(), strict=True))
        self._names = names
        for template_id, person_id in self._owner.items():
            self._templates.setdefault(person_id, set()).add(template_id)

    def sync(
        self,
        current: Iterable[TemplateRef],
        fetch: Callable[[Sequence[int]], Iterable[TemplateEntry]],
    ) -> SyncReport:
        """Bring a loaded snapshot up to date with the database's list of templates.

        Templates missing here are fetched (with their embeddings) and added, templates the
        database no longer has (or has under another owner) are removed, and names follow
        the database.
        """
        refs = {ref.template_id: ref for ref in current}
        with self._lock:
            # A template id now owned by someone else was reused: fetch it again.
            stale = [
                tid
                for tid, pid in self._owner.items()
                if tid not in refs or refs[tid].person_id != pid
            ]
            reassigned = [tid for tid in stale if tid in refs]
            missing = [tid for tid in refs if tid not in self._owner] + reassigned
            renamed = self._rename_all(refs.values())
        removed = self.remove_templates(reassigned)
        entries = list(fetch(missing)) if missing else []
        self.add(entries)
        # Removed after adding: an HNSW graph adds into fresh slots ~6x faster than into
        # the slots of just-deleted nodes (benchmarks/results.md, gallery load at start).
        removed += self.remove_templates(tid for tid in stale if tid not in refs)
        return SyncReport(added=len(entries), removed=removed, renamed=renamed)

    def _rename_all(self, refs: Iterable[TemplateRef]) -> int:
        renamed = 0
        for ref in refs:
            if self._names.get(ref.person_id, ref.name) != ref.name:
                self._names[ref.person_id] = ref.name
                renamed += 1
        return renamed


def erase_person_from_snapshot(folder: Path, person_id: int) -> bool:
    """Delete the snapshot in ``folder`` if it holds anything of ``person_id``; whether it did.

    Called when a person is erased: a snapshot saved before keeps their name and embeddings
    until the next save, and for good after a crash. It is deleted whole rather than
    rewritten (the next start loads from the database, and the next save writes a new one);
    one that cannot be read is deleted too, since it cannot be shown to be clean. So are
    the leftovers of a save a crash cut short (``.<name>.old-*`` and ``.<name>.new-*``).
    """
    removed = False
    for leftover in folder.parent.glob(f".{folder.name}.*-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
            removed = True
    if folder.exists() and _snapshot_mentions(folder, person_id):
        shutil.rmtree(folder)
        logger.info("gallery snapshot in %s deleted: it held an erased person", folder)
        removed = True
    return removed


def _snapshot_mentions(folder: Path, person_id: int) -> bool:
    """Whether the snapshot names the person or has a template of theirs (True if unreadable)."""
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        table = np.load(folder / _TEMPLATES, allow_pickle=False)
        names = {int(pid) for pid in manifest["names"]}
        owners = set(table.reshape(-1, 2)[:, 1].tolist())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return True
    return person_id in names or person_id in owners


def _digests(folder: Path, exclude: str | None = None) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` by relative path (``exclude``: a top file)."""
    digests: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name == exclude:
            continue
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(_HASH_CHUNK):
                digest.update(chunk)
        digests[name] = digest.hexdigest()
    return digests
