"""The long-lived resources of one Facewatch process, shared by the server and the CLI.

Nothing is opened at import time: ``Runtime.open(settings)`` opens the database (migrating
it when allowed) and the blob store; the face models and the in-memory gallery load on
first use, so commands that need neither (``keys list``) start instantly.

The gallery loads from its snapshot (``gallery_snapshot_dir``) when there is a valid one
for the current model, brought up to date with the database; otherwise from the database.
The server saves the snapshot when it stops (``save_gallery_snapshot``).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from facewatch.config import Recognition, Settings
from facewatch.gallery.gallery import Gallery, SyncReport, TemplateEntry
from facewatch.gallery.index import (
    IndexConfig,
    IndexFileError,
    create_index,
    index_config_from,
)
from facewatch.gallery.matching import Thresholds, thresholds_from
from facewatch.security.audit import Access
from facewatch.server.events.bus import EventBus
from facewatch.server.infra.sync import (
    GALLERY_CHANNEL,
    ChangeFeed,
    LocalChangeFeed,
    catch_up,
    create_change_feed,
)
from facewatch.server.infra.workers import AnalysisPool, Analyzer
from facewatch.server.services import models
from facewatch.server.services.api_keys import KEYS_CHANNEL, VerifiedKeys
from facewatch.store.audit_trail import install_audit_trail
from facewatch.store.blobs import BlobStore, create_blob_store
from facewatch.store.db import Database, open_database
from facewatch.store.encryption import ProtectedBlobStore, attach_keyring, keyring_from_settings
from facewatch.store.person_keys import install_keyring
from facewatch.store.repositories.api_keys import watch_key_changes
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

logger = logging.getLogger(__name__)

_RETIRE_OLD_POOL_SECONDS = 60.0
"""After a model switch, the old analysis workers finish what they were given, then stop."""
_RECHECK_MARGIN = timedelta(minutes=5)
"""Templates created this long before a snapshot was saved are re-read when it loads: the
gallery may have lagged the database a little when it was saved (see ``sync.catch_up``)."""


@dataclass(frozen=True, slots=True)
class GalleryLoad:
    """How the gallery was loaded at start: from its snapshot or from the database."""

    source: Literal["snapshot", "database"]
    seconds: float
    templates: int
    caught_up: SyncReport | None = None
    """What the snapshot lacked against the database (None when loaded from the database)."""


@dataclass(frozen=True, slots=True)
class Serving:
    """One model's analyzer, gallery and thresholds, taken together (``Runtime.serving``)."""

    analyzer: Analyzer
    gallery: Gallery
    thresholds: Thresholds
    model_id: str

    @property
    def parts(self) -> tuple[Analyzer, Gallery, Thresholds]:
        """What ``recognize`` takes, in its order."""
        return self.analyzer, self.gallery, self.thresholds


class Storage(Protocol):
    """What a service of plain reads and writes needs of the runtime: a new unit of work.

    ``Runtime`` is one; routers of such services take this (``server/deps.StorageDep``).
    """

    def uow(self) -> UnitOfWork: ...


class AccessLogWriter(Protocol):
    """What the runtime needs of the audit writer of sensitive reads."""

    def __call__(self, access: Access) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class Runtime:
    """Settings, storage, models and gallery of one process."""

    settings: Settings
    db: Database
    blobs: BlobStore
    changes: ChangeFeed = field(default_factory=LocalChangeFeed)
    """Tells the other replicas about gallery changes (infra/sync.py)."""
    events: EventBus = field(default_factory=EventBus.disabled)
    """Where ingest publishes stored detections; the server's lifespan installs a live bus."""
    _serving: str | None = None
    """The embedding model that answers (``services/models.py``); decided on first use."""
    _serving_settings: tuple[str, Settings] | None = None
    _analyzer: FaceAnalyzer | None = None
    _pool: AnalysisPool | None = None
    _gallery: Gallery | None = None
    gallery_load: GalleryLoad | None = None
    """How the gallery was loaded, once it is."""
    model_status: models.ModelStatus | None = None
    """The re-embed's last known status (refreshed by the scheduled job; ``/readyz``)."""
    access_log: AccessLogWriter | None = None
    """Writes the audit entries of sensitive reads in batches (server/services/audit.py)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _switching: threading.Lock = field(default_factory=threading.Lock)
    verified_keys: VerifiedKeys = field(init=False)
    """API keys verified a moment ago (services/api_keys.py)."""

    def __post_init__(self) -> None:
        self.verified_keys = VerifiedKeys(self.settings.api_key_cache_seconds)
        watch_key_changes(self.db, self._keys_changed)
        self.changes.subscribe(KEYS_CHANNEL, self._forget_keys)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """Open storage; migrate the schema if allowed, and refuse one that is too new."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        configured = keyring_from_settings(settings)  # a bad key fails here, before anything
        db = open_database(settings)
        # Embeddings and images are sealed with the configured key, else with the install's
        # own key kept in the database; people's data with their own keys (docs/security.md).
        try:
            keyring = install_keyring(db.engine, configured)
        except BaseException:
            db.dispose()
            raise
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
        serving = self.serving_settings
        with self._lock:
            if self._pool is None:
                self._pool = AnalysisPool(serving)
        self._pool.warm_up()

    def _keys_changed(self) -> None:
        """A committed change made some key admit less: forget, and tell the replicas."""
        self.verified_keys.clear()
        self.changes.publish(KEYS_CHANNEL, self.changes.replica_id)

    def _forget_keys(self, _payload: str) -> None:
        self.verified_keys.clear()

    def close(self) -> None:
        if self.access_log is not None:
            self.access_log.close()
        if self._pool is not None:
            self._pool.close()
        self.changes.close()
        self.db.dispose()

    def uow(self) -> UnitOfWork:
        """A new unit of work (one transaction, blobs cleaned up on failure)."""
        return UnitOfWork(self.db, self.blobs)

    @property
    def serving_model(self) -> str:
        """The embedding model whose templates answer (recorded in the database)."""
        with self._lock:
            if self._serving is None:
                self._serving = models.decide_serving(
                    self.uow, models.configured_model(self.settings)
                )
            return self._serving

    @property
    def serving_settings(self) -> Settings:
        """The settings with the embedder of the serving model."""
        model_id = self.serving_model
        cached = self._serving_settings
        if cached is None or cached[0] != model_id:
            cached = (model_id, models.settings_for_model(self.settings, model_id))
            self._serving_settings = cached
        return cached[1]

    @property
    def recognition(self) -> Recognition:
        """The thresholds in force: those set, else the serving model's calibrated ones."""
        return self.settings.recognition(models.spec_of(self.serving_model).defaults)

    @property
    def thresholds(self) -> Thresholds:
        return thresholds_from(self.recognition)

    def serving(self) -> Serving:
        """The analyzer, gallery and thresholds of one model, taken together.

        A request that analyses and matches takes them at once, so a model switch between
        the two steps cannot pair one model's embeddings with another model's gallery.
        """
        analyzer, gallery = self.analyzer, self.gallery
        if analyzer.model_id != gallery.model_id:  # switched in between: the new pair
            analyzer, gallery = self.analyzer, self.gallery
        return Serving(analyzer, gallery, thresholds_from(self.recognition), gallery.model_id)

    @property
    def analyzer(self) -> Analyzer:
        """The face pipeline: the analysis workers once started, else loaded here on first use."""
        serving = self.serving_settings
        with self._lock:
            if self._pool is not None:
                return self._pool
            if self._analyzer is None:
                self._analyzer = create_analyzer(serving)
            return self._analyzer

    @property
    def model_id(self) -> str:
        return self.analyzer.model_id

    def follow_serving_model(self) -> bool:
        """Switch to the serving model the database records, if it changed; whether it did.

        Every replica calls this on a change-feed notice and on each gallery-sync poll.
        The new model's analyzer and gallery load first; the old ones answer meanwhile.
        """
        recorded = models.recorded_serving(self.uow)
        with self._lock:
            current = self._serving
        if recorded is None or current is None or recorded == current:
            return False
        with self._switching:
            return self._switch_to(recorded)

    def _switch_to(self, model_id: str) -> bool:
        with self._lock:
            if self._serving == model_id:
                return False
            pooled = self._pool is not None
        settings = models.settings_for_model(self.settings, model_id)
        pool = AnalysisPool(settings) if pooled else None
        analyzer = None if pool is not None else create_analyzer(settings)
        if pool is not None:
            pool.warm_up()
        spec = models.spec_of(model_id)
        gallery = self._gallery_from_database(model_id, spec.dim, self._index_config())
        with self._lock:
            old_pool = self._pool
            self._pool, self._analyzer, self._gallery = pool, analyzer, gallery
            self._serving = model_id
        if old_pool is not None:
            # Requests that took the old pool finish on it; then it goes.
            retire = threading.Timer(_RETIRE_OLD_POOL_SECONDS, old_pool.close)
            retire.daemon = True
            retire.start()
        logger.info("now serving embedding model %s (%s templates)", model_id, len(gallery))
        self.changes.publish(GALLERY_CHANNEL, self.changes.replica_id)
        return True

    @property
    def gallery(self) -> Gallery:
        """The in-memory gallery of the serving model's templates, loaded on first use."""
        model_id = self.serving_model
        with self._lock:
            if self._gallery is None:
                self._gallery = self._load_gallery(model_id, models.spec_of(model_id).dim)
            return self._gallery

    @property
    def loaded_gallery(self) -> Gallery | None:
        """The gallery if it is loaded already, without loading it."""
        return self._gallery

    @property
    def snapshot_dir(self) -> Path | None:
        """Where the gallery snapshot lives; None when snapshots are off.

        They are off with an encryption key: the snapshot would hold the embeddings in
        clear beside a database that keeps them encrypted (docs/security.md).
        """
        if self.settings.encryption_key is not None:
            return None
        return self._configured_snapshot_dir()

    def _configured_snapshot_dir(self) -> Path | None:
        if not self.settings.gallery_snapshot:
            return None
        return self.settings.gallery_snapshot_dir or self.settings.data_dir / "gallery"

    def save_gallery_snapshot(self) -> bool:
        """Save the loaded gallery as the snapshot the next start loads; whether it did.

        A failure (disk full, a read-only volume) only costs the next start its speed-up.
        """
        folder, gallery = self.snapshot_dir, self._gallery
        if folder is None or gallery is None:
            return False
        # Stamped before writing: templates created from here on are re-read at load.
        meta = {"saved_at": datetime.now(UTC).isoformat()}
        try:
            gallery.save(folder, meta)
        except OSError:
            logger.warning("could not save the gallery snapshot in %s", folder, exc_info=True)
            return False
        return True

    def _load_gallery(self, model_id: str, dim: int) -> Gallery:
        started = time.perf_counter()
        config = self._index_config()
        self._forget_unencrypted_snapshot()
        loaded = self._gallery_from_snapshot(model_id, dim, config)
        if loaded is not None:
            gallery, report = loaded
        else:
            gallery, report = self._gallery_from_database(model_id, dim, config), None
        source: Literal["snapshot", "database"] = "database" if report is None else "snapshot"
        self.gallery_load = GalleryLoad(
            source, time.perf_counter() - started, len(gallery), caught_up=report
        )
        logger.info(
            "gallery loaded from the %s in %.2f s: %s templates of %s people (%s, %s index)",
            source,
            self.gallery_load.seconds,
            len(gallery),
            gallery.people_count,
            model_id,
            gallery.index.kind,
        )
        return gallery

    def _index_config(self) -> IndexConfig:
        """The index configuration, its scratch rows kept in the data dir unless set."""
        config = index_config_from(self.settings)
        if config.vector_dir is None:
            config = replace(config, vector_dir=self.settings.data_dir / "vectors")
        return config

    def _gallery_from_database(self, model_id: str, dim: int, config: IndexConfig) -> Gallery:
        gallery = Gallery(model_id, dim, create_index(dim, config))
        with self.uow() as uow:
            gallery.add(
                TemplateEntry(tid, pid, name, emb)
                for tid, pid, name, emb in uow.templates.all_for_model(model_id)
            )
        return gallery

    def _gallery_from_snapshot(
        self, model_id: str, dim: int, config: IndexConfig
    ) -> tuple[Gallery, SyncReport] | None:
        """The snapshot's gallery caught up with the database; None if there is no usable one."""
        folder = self.snapshot_dir
        if folder is None or not folder.exists():
            return None
        try:
            gallery = Gallery.load(folder, model_id, dim, config)
            saved_at = datetime.fromisoformat(str(gallery.snapshot_meta["saved_at"]))
        except (IndexFileError, KeyError, ValueError) as exc:
            logger.warning("gallery snapshot not used, loading from the database: %s", exc)
            return None
        report = catch_up(self.db, gallery, recheck_since=saved_at - _RECHECK_MARGIN)
        logger.info(
            "gallery snapshot of %s caught up: %s added, %s removed, %s renamed",
            saved_at.isoformat(timespec="seconds"),
            report.added,
            report.removed,
            report.renamed,
        )
        return gallery, report

    def _forget_unencrypted_snapshot(self) -> None:
        """Delete a snapshot written before an encryption key was set: it is in clear."""
        folder = self._configured_snapshot_dir()
        if self.settings.encryption_key is not None and folder is not None and folder.exists():
            logger.warning("deleting the unencrypted gallery snapshot in %s", folder)
            shutil.rmtree(folder, ignore_errors=True)

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
