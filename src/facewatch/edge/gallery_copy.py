"""Mode local: the agent's copy of the server's gallery, kept fresh and kept on disk.

The server answers ``GET /api/v1/edge/gallery`` with every enrolled person (id, name,
category), their template embeddings, the model that made them and the thresholds of its
open-set decision. ``GallerySync`` asks again every ``sync_interval`` seconds with the
version it holds (a 304 costs nothing), keeps the last copy while the server is away, and
writes each new copy to one file (atomically, owner-only) so a restart while offline still
recognises.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ValidationError

from facewatch.edge.uplink import GalleryUnavailable, Uplink
from facewatch.gallery.matching import Thresholds, thresholds_from

logger = logging.getLogger(__name__)


class _Thresholds(BaseModel):
    match_threshold: float
    unknown_threshold: float
    margin_weight: float
    margin_cap: float


class _Person(BaseModel):
    id: int
    name: str
    category: str


class _Template(BaseModel):
    id: int
    person_id: int
    embedding: str


class _Answer(BaseModel):
    """The server's answer (``EdgeGalleryOut``); extra keys are ignored (newer servers)."""

    version: str
    model_id: str
    dim: int
    top_k: int
    thresholds: _Thresholds
    people: list[_Person]
    templates: list[_Template]


@dataclass(frozen=True, slots=True)
class PersonInfo:
    name: str
    category: str


@dataclass(frozen=True)
class GalleryCopy:
    """One version of the gallery as the agent holds it."""

    version: str
    model_id: str
    dim: int
    top_k: int
    thresholds: Thresholds
    people: dict[int, PersonInfo]
    template_ids: np.ndarray
    """int64, one per template."""
    template_people: np.ndarray
    """int64: the person of each template."""
    embeddings: np.ndarray
    """float32, (templates, dim)."""

    @classmethod
    def from_answer(cls, body: dict[str, object]) -> GalleryCopy:
        """Parse the server's answer; ``GalleryUnavailable`` if it is malformed."""
        try:
            answer = _Answer.model_validate(body)
            vectors = [base64.b64decode(t.embedding, validate=True) for t in answer.templates]
        except (ValidationError, binascii.Error) as exc:
            raise GalleryUnavailable(f"malformed gallery answer: {exc}") from exc
        if any(len(vector) != 4 * answer.dim for vector in vectors):
            raise GalleryUnavailable(f"a template is not {answer.dim} float32 values")
        people = {p.id: PersonInfo(p.name, p.category) for p in answer.people}
        if any(t.person_id not in people for t in answer.templates):
            raise GalleryUnavailable("a template belongs to nobody listed")
        return cls(
            version=answer.version,
            model_id=answer.model_id,
            dim=answer.dim,
            top_k=answer.top_k,
            thresholds=thresholds_from(answer.thresholds),
            people=people,
            template_ids=np.array([t.id for t in answer.templates], dtype=np.int64),
            template_people=np.array([t.person_id for t in answer.templates], dtype=np.int64),
            embeddings=np.frombuffer(b"".join(vectors), dtype="<f4")
            .astype(np.float32)
            .reshape(-1, answer.dim),
        )

    def save(self, path: Path) -> None:
        """Write the copy to ``path`` atomically, readable by the owner only."""
        meta = {
            "version": self.version,
            "model_id": self.model_id,
            "dim": self.dim,
            "top_k": self.top_k,
            "thresholds": {
                "match_threshold": self.thresholds.match,
                "unknown_threshold": self.thresholds.unknown,
                "margin_weight": self.thresholds.margin_weight,
                "margin_cap": self.thresholds.margin_cap,
            },
            "people": [
                {"id": pid, "name": p.name, "category": p.category}
                for pid, p in self.people.items()
            ],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.tmp")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            np.savez(
                file,
                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                template_ids=self.template_ids,
                template_people=self.template_people,
                embeddings=self.embeddings,
            )
            file.flush()
            os.fsync(file.fileno())
        staging.replace(path)

    @classmethod
    def load(cls, path: Path) -> GalleryCopy | None:
        """The copy saved at ``path``; None (logged) if there is none or it is unreadable."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                meta = json.loads(saved["meta"].tobytes().decode())
                answer = _Answer.model_validate({**meta, "templates": []})
                return cls(
                    version=answer.version,
                    model_id=answer.model_id,
                    dim=answer.dim,
                    top_k=answer.top_k,
                    thresholds=thresholds_from(answer.thresholds),
                    people={p.id: PersonInfo(p.name, p.category) for p in answer.people},
                    template_ids=saved["template_ids"].astype(np.int64),
                    template_people=saved["template_people"].astype(np.int64),
                    embeddings=saved["embeddings"].astype(np.float32).reshape(-1, answer.dim),
                )
        except (OSError, ValueError, KeyError, ValidationError) as exc:
            logger.warning("the gallery copy %s is unreadable (%s): ignored", path, exc)
            return None

    def __len__(self) -> int:
        return len(self.template_ids)


GalleryListener = Callable[[GalleryCopy], None]


class GallerySync:
    """Keeps a gallery copy fresh from the server in a thread; hands each new copy on."""

    def __init__(
        self, uplink: Uplink, path: Path, interval: float, listener: GalleryListener
    ) -> None:
        self.uplink = uplink
        self.path = path
        self.interval = interval
        self._listener = listener
        self._copy: GalleryCopy | None = None
        self._failing = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-gallery", daemon=True)

    @property
    def copy(self) -> GalleryCopy | None:
        return self._copy

    def start(self) -> None:
        """Use the copy on disk at once if there is one (and check for a newer one in the
        thread, so an unreachable server does not hold the cameras up); with none, ask the
        server first. Then poll in the thread."""
        saved = GalleryCopy.load(self.path)
        if saved is not None:
            logger.info(
                "gallery copy %s from %s: %s templates of %s people",
                saved.version,
                self.path,
                len(saved),
                len(saved.people),
            )
            self._use(saved)
        else:
            self.refresh()
        if self._copy is None:
            logger.warning(
                "no gallery copy yet: faces are sent upstream but not recognised on site "
                "until the server answers"
            )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def refresh(self) -> bool:
        """Ask the server once; True if a new copy is now in use. Never raises."""
        since = self._copy.version if self._copy is not None else None
        try:
            body = self.uplink.fetch_gallery(since)
            fresh = None if body is None else GalleryCopy.from_answer(body)
        except GalleryUnavailable as exc:
            if not self._failing:
                logger.warning("gallery sync failed (%s): recognising with the last copy", exc)
            self._failing = True
            return False
        if self._failing:
            logger.info("gallery sync works again")
        self._failing = False
        if fresh is None:
            return False
        try:
            fresh.save(self.path)
        except OSError as exc:
            logger.warning("cannot write the gallery copy to %s: %s", self.path, exc)
        logger.info(
            "gallery copy %s: %s templates of %s people",
            fresh.version,
            len(fresh),
            len(fresh.people),
        )
        self._use(fresh)
        return True

    def _use(self, copy: GalleryCopy) -> None:
        self._copy = copy
        self._listener(copy)

    def _run(self) -> None:
        wait = 0.0 if self._copy is not None else self.interval  # a saved copy: check now
        while not self._stop.wait(wait):
            try:
                self.refresh()
            except Exception:  # the thread boundary: keep the last copy, try again later
                logger.exception("gallery sync round failed")
            wait = self.interval
