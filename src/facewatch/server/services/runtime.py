"""The long-lived resources of one Facewatch process, shared by the server and the CLI.

Nothing is opened at import time: ``Runtime.open(settings)`` opens the database (migrating
it when allowed) and the blob store; the face models and the in-memory gallery load on
first use, so commands that need neither (``keys list``) start instantly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from facewatch.config import Settings
from facewatch.gallery.gallery import Gallery, TemplateEntry
from facewatch.gallery.matching import Thresholds, thresholds_from
from facewatch.server.events.bus import EventBus
from facewatch.server.services.sync import (
    GALLERY_CHANNEL,
    ChangeFeed,
    LocalChangeFeed,
    create_change_feed,
)
from facewatch.server.services.workers import AnalysisPool, Analyzer
from facewatch.store.audit_trail import install_audit_trail
from facewatch.store.blobs import BlobStore, create_blob_store
from facewatch.store.db import Database, open_database
from facewatch.store.encryption import ProtectedBlobStore, attach_keyring, keyring_from_settings
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Settings, storage, models and gallery of one process."""

    settings: Settings
    db: Database
    blobs: BlobStore
    changes: ChangeFeed = field(default_factory=LocalChangeFeed)
    """Tells the other replicas about gallery changes (services/sync.py)."""
    events: EventBus = field(default_factory=EventBus.disabled)
    """Where ingest publishes stored detections; the server's lifespan installs a live bus."""
    _analyzer: FaceAnalyzer | None = None
    _pool: AnalysisPool | None = None
    _gallery: Gallery | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Open storage; migrate the schema if allowed, and refuse one that is too new."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        keyring = keyring_from_settings(settings)  # a bad key fails here, before anything opens
        db = open_database(settings)
        # Embeddings and images are sealed with the key, if one is configured (docs/security.md).
        attach_keyring(db.engine, keyring)
        install_audit_trail()  # changes to people, keys, users... are audited
        try:
            blobs = ProtectedBlobStore(create_blob_store(settings), keyring)
        except BaseException:
            db.dispose()  # e.g. an unreachable S3 bucket: leave no connection pool behind
            raise
        return cls(settings=settings, db=db, blobs=blobs, changes=create_change_feed(db))

    def start_workers(self) -> None:
        """Analyse images in worker processes (``AnalysisPool``) from now on."""
        with self._lock:
            if self._pool is None:
                self._pool = AnalysisPool(self.settings)
        self._pool.warm_up()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self.changes.close()
        self.db.dispose()

    def uow(self) -> UnitOfWork:
        """A new unit of work (one transaction, blobs cleaned up on failure)."""
        return UnitOfWork(self.db, self.blobs)

    @property
    def thresholds(self) -> Thresholds:
        return thresholds_from(self.settings)

    @property
    def analyzer(self) -> Analyzer:
        """The face pipeline: the analysis workers once started, else loaded here on first use."""
        with self._lock:
            if self._pool is not None:
                return self._pool
            if self._analyzer is None:
                self._analyzer = create_analyzer(self.settings)
            return self._analyzer

    @property
    def model_id(self) -> str:
        return self.analyzer.model_id

    @property
    def gallery(self) -> Gallery:
        """The in-memory gallery of the current embedder's templates, loaded on first use."""
        analyzer = self.analyzer
        with self._lock:
            if self._gallery is None:
                self._gallery = self._load_gallery(analyzer.model_id, analyzer.embedding_dim)
            return self._gallery

    @property
    def loaded_gallery(self) -> Gallery | None:
        """The gallery if it is loaded already, without loading it."""
        return self._gallery

    def _load_gallery(self, model_id: str, dim: int) -> Gallery:
        gallery = Gallery(model_id, dim)
        with self.uow() as uow:
            gallery.add(
                TemplateEntry(tid, pid, name, emb)
                for tid, pid, name, emb in uow.templates.all_for_model(model_id)
            )
        logger.info(
            "gallery loaded: %s templates of %s people (%s)",
            len(gallery),
            gallery.people_count,
            model_id,
        )
        return gallery

    def loaded_gallery_do(
        self, change: Callable[[Gallery], object], *, notify: bool = True
    ) -> None:
        """Apply a committed change to the gallery if it is loaded (else it loads fresh),
        then tell the other replicas (``notify=False`` for changes that came from them)."""
        with self._lock:
            if self._gallery is not None:
                change(self._gallery)
        if notify:
            self.changes.publish(GALLERY_CHANNEL, self.changes.replica_id)

    def warm_up(self) -> None:
        """Load the models and the gallery now rather than on the first request.

        The server calls this at start-up: unless ``analysis_workers`` is 0, the models load
        in worker processes that analyse every image from then on, on every core.
        """
        if self.settings.analysis_workers != 0:
            self.start_workers()
        self.analyzer.warm_up()
        _ = self.gallery
