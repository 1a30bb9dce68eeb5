"""Keeping replicas in step through the shared database, with no restart and no lock file.

Every replica keeps the gallery in memory. Two mechanisms keep N of them consistent:

- **Change feed.** After a committed gallery change (enrol, delete, rename, a named unknown)
  the replica that made it publishes on a channel. On PostgreSQL that is ``NOTIFY`` and
  every replica ``LISTEN``s on a dedicated connection, so the others hear within
  milliseconds; on SQLite (one box) the feed only reaches the process itself. Other
  subsystems use channels of their own (``event_relay``: events to every replica's SSE
  clients).
- **Gallery sync.** A thread per replica compares a cheap fingerprint of the gallery
  tables (template count and newest id for the current model, newest change of a person)
  with the one it last saw, every ``gallery_sync_interval`` seconds and whenever the feed
  wakes it. When it differs, the in-memory gallery is brought up to date (new templates
  by id, names, and a full comparison only after deletions). The poll alone keeps
  replicas within the interval when a notification is lost (a reconnect, a change made
  by another tool), so NOTIFY is a speed-up, never a requirement.
- **Catch-up at start.** A gallery loaded from its snapshot is compared with the database
  once before the replica is ready (``catch_up``): what changed while it was down.

Scheduled jobs on one replica: ``scheduler``; all of it for one server: ``replicas``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, literal, select, text

from facewatch.gallery.gallery import (
    Gallery,
    SyncReport,
    TemplateEntry,
    TemplateRef,
    erase_person_from_snapshot,
)
from facewatch.store.db import Database
from facewatch.store.embeddings import embedding_from_bytes
from facewatch.store.models import Person, Template

logger = logging.getLogger(__name__)

GALLERY_CHANNEL = "facewatch_gallery"
"""The channel a replica publishes on after changing the gallery."""

_RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
_FETCH_BATCH = 1000

Callback = Callable[[str], None]
"""Called with the payload of each notification; must return quickly (set an Event)."""


# --- the change feed -------------------------------------------------------------------
class ChangeFeed(ABC):
    """Publish/subscribe between the replicas of one database."""

    def __init__(self) -> None:
        self.replica_id = uuid.uuid4().hex[:12]
        self._subscribers: dict[str, list[Callback]] = {}
        self._lock = threading.Lock()

    def subscribe(self, channel: str, callback: Callback) -> None:
        """Call ``callback(payload)`` for every notification on ``channel``.

        Callbacks are also called with an empty payload after the feed reconnects, since
        notifications may have been missed meanwhile.
        """
        with self._lock:
            self._subscribers.setdefault(channel, []).append(callback)

    @abstractmethod
    def publish(self, channel: str, payload: str = "") -> None:
        """Tell every replica (this one included) that something changed on ``channel``."""

    @abstractmethod
    def start(self) -> None:
        """Start listening for the other replicas' notifications."""

    @abstractmethod
    def close(self) -> None:
        """Stop listening and release connections."""

    @property
    def channels(self) -> list[str]:
        with self._lock:
            return list(self._subscribers)

    def _dispatch(self, channel: str, payload: str) -> None:
        with self._lock:
            callbacks = list(self._subscribers.get(channel, ()))
        for callback in callbacks:
            try:
                callback(payload)
            except Exception:
                logger.exception("subscriber of %s failed", channel)

    def _dispatch_all(self) -> None:
        for channel in self.channels:
            self._dispatch(channel, "")


class LocalChangeFeed(ChangeFeed):
    """Notifications within this process only (SQLite: other processes rely on polling)."""

    def publish(self, channel: str, payload: str = "") -> None:
        self._dispatch(channel, payload)

    def start(self) -> None:
        """Nothing to listen to: there are no other replicas to hear from."""

    def close(self) -> None:
        """Nothing to release."""


class PostgresChangeFeed(ChangeFeed):
    """``NOTIFY`` to publish; a thread ``LISTEN``ing on a connection of its own to receive."""

    def __init__(self, db: Database, *, poll_seconds: float = 0.5) -> None:
        super().__init__()
        self._db = db
        self._poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listening: set[str] = set()
        self.connected = threading.Event()

    def publish(self, channel: str, payload: str = "") -> None:
        try:
            with self._db.engine.connect() as connection:
                statement = text("SELECT pg_notify(:channel, :payload)")
                connection.execute(statement, {"channel": channel, "payload": payload})
                connection.commit()
        except Exception:
            # The change is committed; the other replicas' poll will find it.
            logger.warning("could not notify %s; replicas will catch up by polling", channel)

    def listening(self, channel: str) -> bool:
        """Whether notifications on ``channel`` reach this replica now."""
        return self.connected.is_set() and channel in self._listening

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                with dedicated_connection(self._db) as connection:
                    attempt = 0
                    self._listen(connection)
            except Exception:
                if self._stop.is_set():
                    return
                delay = _RECONNECT_SECONDS[min(attempt, len(_RECONNECT_SECONDS) - 1)]
                logger.warning("change feed lost its connection; retrying in %.1f s", delay)
                attempt += 1
                self._stop.wait(delay)
            finally:
                self.connected.clear()

    def _listen(self, connection: Any) -> None:
        self._listening = set()
        self._listen_to_new_channels(connection)
        self.connected.set()
        self._dispatch_all()  # anything may have changed while we were not listening
        while not self._stop.is_set():
            for note in connection.notifies(timeout=self._poll_seconds):
                self._dispatch(note.channel, note.payload)
            self._listen_to_new_channels(connection)

    def _listen_to_new_channels(self, connection: Any) -> None:
        from psycopg import sql

        for channel in set(self.channels) - self._listening:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._listening.add(channel)


def create_change_feed(db: Database) -> ChangeFeed:
    """NOTIFY/LISTEN on PostgreSQL; in-process notifications on SQLite."""
    if db.dialect == "postgresql":
        return PostgresChangeFeed(db)
    return LocalChangeFeed()


@contextlib.contextmanager
def dedicated_connection(db: Database) -> Iterator[Any]:
    """A psycopg connection of its own (autocommit), outside the pool, closed on exit.

    Listening and holding a session-level lock both need one connection for a long time;
    taking it from the pool would starve the requests.
    """
    import psycopg

    _, params = db.engine.dialect.create_connect_args(db.engine.url)
    params = {k: v for k, v in params.items() if k != "context"}
    connection = psycopg.connect(**params, autocommit=True)
    try:
        yield connection
    finally:
        connection.close()


# --- the gallery sync ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GalleryFingerprint:
    """Changes whenever a template of the model is added or removed or a person changes."""

    templates: int
    newest_template: int | None
    newest_template_time: object
    """SQLite only: there a deleted newest template's id may go to the next one."""
    newest_person_change: object


def read_fingerprint(db: Database, model_id: str) -> GalleryFingerprint:
    """One small aggregate query: a count (index-only on a vacuumed PostgreSQL table), the
    newest template id (one index probe) and the newest change of a person."""
    of_model = Template.model == model_id
    newest_time = (
        select(func.max(Template.created_at)).where(of_model).scalar_subquery()
        if db.dialect == "sqlite"  # PostgreSQL sequences never hand an id out twice
        else literal(None)
    )
    statement = select(
        select(func.count()).select_from(Template).where(of_model).scalar_subquery(),
        select(func.max(Template.id)).where(of_model).scalar_subquery(),
        newest_time,
        select(func.max(Person.updated_at)).scalar_subquery(),
    )
    with db.session() as session:
        count, newest, newest_time_value, person_change = session.execute(statement).one()
    return GalleryFingerprint(int(count), newest, newest_time_value, person_change)


def read_template_refs(db: Database, model_id: str) -> list[TemplateRef]:
    """Every template of the model as ids and owner's name, without embeddings."""
    statement = (
        select(Template.id, Template.person_id, Person.name)
        .join(Person, Person.id == Template.person_id)
        .where(Template.model == model_id)
    )
    with db.session() as session:
        return [TemplateRef(tid, pid, name) for tid, pid, name in session.execute(statement)]


def read_template_entries(db: Database, template_ids: Sequence[int]) -> list[TemplateEntry]:
    """The templates with these ids, embeddings included, in batches."""
    entries: list[TemplateEntry] = []
    for start in range(0, len(template_ids), _FETCH_BATCH):
        batch = template_ids[start : start + _FETCH_BATCH]
        entries.extend(_read_entries(db, Template.id.in_(batch)))
    return entries


def read_templates_after(db: Database, model_id: str, after: int) -> list[TemplateEntry]:
    """Templates of the model with an id above ``after`` (a range scan of the primary key)."""
    return _read_entries(db, (Template.model == model_id) & (Template.id > after))


def _read_entries(db: Database, where: ColumnElement[bool]) -> list[TemplateEntry]:
    statement = (
        select(Template.id, Template.person_id, Person.name, Template.embedding)
        .join(Person, Person.id == Template.person_id)
        .where(where)
    )
    with db.session() as session:
        return [
            TemplateEntry(tid, pid, name, embedding_from_bytes(data))
            for tid, pid, name, data in session.execute(statement)
        ]


def read_template_ids_since(db: Database, model_id: str, since: datetime) -> list[int]:
    """Ids of the model's templates created at or after ``since``."""
    statement = select(Template.id).where(
        (Template.model == model_id) & (Template.created_at >= since)
    )
    with db.session() as session:
        return list(session.scalars(statement))


def catch_up(db: Database, gallery: Gallery, *, recheck_since: datetime) -> SyncReport:
    """Bring a gallery loaded from a snapshot up to date with the database.

    The snapshot is compared with the database's list of templates (ids and owners, no
    embeddings): what was deleted meanwhile leaves, what was added is fetched. On SQLite
    the id of a deleted newest template can be handed out again, so a template created
    since ``recheck_since`` (shortly before the snapshot was saved) is always re-read.
    """
    recheck = read_template_ids_since(db, gallery.model_id, recheck_since)
    rechecked = gallery.remove_templates(recheck)
    refs = read_template_refs(db, gallery.model_id)
    newest = max((ref.template_id for ref in refs), default=0)
    later = read_templates_after(db, gallery.model_id, newest)
    current = refs + [TemplateRef(e.template_id, e.person_id, e.name) for e in later]
    report = gallery.sync(current, lambda ids: read_template_entries(db, ids))
    # A re-read template counts as removed and added again.
    return SyncReport(report.added, report.removed + rechecked, report.renamed)


def read_people_names(db: Database) -> dict[int, str]:
    """Every person's id and name (a person row is ~5x fewer than their templates)."""
    with db.session() as session:
        return {pid: name for pid, name in session.execute(select(Person.id, Person.name))}


class SyncedReplica(Protocol):
    """What the gallery sync needs of its replica (``Runtime`` is one): the database, the
    loaded gallery and a way to change it under the replica's lock, the snapshot folder,
    and following a switch of the serving model."""

    @property
    def db(self) -> Database: ...

    @property
    def loaded_gallery(self) -> Gallery | None: ...

    @property
    def snapshot_dir(self) -> Path | None: ...

    def loaded_gallery_do(
        self, change: Callable[[Gallery], object], *, notify: bool = True
    ) -> None: ...

    def follow_serving_model(self) -> bool: ...


class GallerySync:
    """Keeps this replica's gallery equal to the database, woken by the feed or a timer.

    A change costs what it touches: new templates are read by id range, names by one scan
    of the people table; only when the template counts disagree (something was deleted, or
    commits landed out of id order) is the whole list of templates compared
    (``Gallery.sync``), as it also is every ``full_every`` seconds as a safety net.
    """

    def __init__(
        self,
        runtime: SyncedReplica,
        feed: ChangeFeed,
        interval: float,
        *,
        full_every: float = 300.0,
    ) -> None:
        self._runtime = runtime
        self._interval = interval
        self._full_every = full_every
        self._wake = threading.Event()
        self._notified = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: GalleryFingerprint | None = None
        self._newest_id = 0
        self._names: dict[int, str] = {}
        self._last_full = 0.0
        self.last_report: SyncReport | None = None
        self.syncs = 0
        self.full_syncs = 0
        feed.subscribe(GALLERY_CHANNEL, self._on_notification)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gallery-sync", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def sync_once(self) -> SyncReport | None:
        """Bring the loaded gallery up to date if the database changed; None if it had not.

        The slow reads (every template id, every name) happen before taking the runtime's
        lock, so recognitions never wait for them; what is read under the lock is what
        changed meanwhile (an id-range read), so a concurrent local change is never undone.
        """
        gallery = self._runtime.loaded_gallery
        if gallery is None:
            return None  # it will load fresh from the database when first used
        notified = self._notified.is_set()
        self._notified.clear()
        db, model_id = self._runtime.db, gallery.model_id
        seen = read_fingerprint(db, model_id)
        full = self._seen is None or time.monotonic() - self._last_full > self._full_every
        if seen == self._seen and not notified and not full:
            return None
        report = None
        if not full:
            people_changed = seen.newest_person_change != getattr(
                self._seen, "newest_person_change", None
            )
            names = read_people_names(db) if notified or people_changed else None
            report = self._locked(lambda g: self._incremental(g, seen, names))
        if report is None:  # a full comparison is due, or the counts disagree
            refs, names = read_template_refs(db, model_id), read_people_names(db)
            report = self._locked(lambda g: self._reconcile(g, refs, names))
        self._seen = seen  # read before updating: a change meanwhile shows next time
        self.syncs += 1
        self.last_report = report
        return report

    def _locked(self, update: Callable[[Gallery], SyncReport | None]) -> SyncReport | None:
        """Run ``update`` on the loaded gallery under the runtime's lock (no notification)."""
        reports: list[SyncReport | None] = []
        self._runtime.loaded_gallery_do(lambda g: reports.append(update(g)), notify=False)
        return reports[0] if reports else None

    def _incremental(
        self, gallery: Gallery, seen: GalleryFingerprint, names: dict[int, str] | None
    ) -> SyncReport | None:
        """Add templates newer than any seen and follow names; None if that is not enough."""
        before = len(gallery)
        added = read_templates_after(self._runtime.db, gallery.model_id, self._newest_id)
        added += self._reused_ids(gallery.model_id, seen)
        gallery.add(added)  # those this replica added itself are replaced, not doubled
        self._newest_id = max([self._newest_id, *(e.template_id for e in added)])
        renamed = self._follow_names(gallery, names) if names is not None else 0
        if len(gallery) != seen.templates:
            return None  # deletions, or commits out of id order
        report = SyncReport(added=len(gallery) - before, removed=0, renamed=renamed)
        return self._log(report, gallery)

    def _reused_ids(self, model_id: str, seen: GalleryFingerprint) -> list[TemplateEntry]:
        """Templates made since the last poll under ids this replica already had.

        SQLite gives the id of a deleted newest template to the next one: a template deleted
        and another added in between two polls leave the count and the newest id as they
        were, and only the newest template's time tells. PostgreSQL never reuses an id.
        """
        since = self._seen.newest_template_time if self._seen is not None else None
        if since is None or seen.newest_template_time == since:
            return []
        return _read_entries(
            self._runtime.db,
            (Template.model == model_id)
            & (Template.created_at >= since)
            & (Template.id <= self._newest_id),
        )

    def _follow_names(self, gallery: Gallery, names: dict[int, str]) -> int:
        changed = {pid: n for pid, n in names.items() if self._names.get(pid, n) != n}
        for person_id, name in changed.items():
            gallery.rename(person_id, name)
        self._names = names
        return len(changed)

    def _reconcile(
        self, gallery: Gallery, refs: list[TemplateRef], names: dict[int, str]
    ) -> SyncReport:
        """Make the gallery hold exactly ``refs`` plus what was committed after they were read.

        A template deleted since is still in ``refs``: the next poll sees the count differ
        and compares again; one this replica deleted meanwhile is not fetched back (its row
        is gone), and one it added meanwhile is among the later ones, so it stays.
        """
        db = self._runtime.db
        newest = max((ref.template_id for ref in refs), default=0)
        later = read_templates_after(db, gallery.model_id, newest)
        current = refs + [TemplateRef(e.template_id, e.person_id, e.name) for e in later]
        before = gallery.person_ids()
        report = gallery.sync(current, lambda ids: read_template_entries(db, ids))
        self._forget_erased(before - gallery.person_ids())
        self._newest_id = max((ref.template_id for ref in current), default=0)
        self._names = names
        self._last_full = time.monotonic()
        self.full_syncs += 1
        return self._log(report, gallery)

    def _forget_erased(self, gone: set[int]) -> None:
        """People erased on another replica leave this replica's snapshot on disk too."""
        folder = self._runtime.snapshot_dir
        if folder is None:
            return
        for person_id in gone:
            erase_person_from_snapshot(folder, person_id)

    @staticmethod
    def _log(report: SyncReport, gallery: Gallery) -> SyncReport:
        if report.added or report.removed or report.renamed:
            logger.info(
                "gallery synced: %s added, %s removed, %s renamed; %s templates",
                report.added,
                report.removed,
                report.renamed,
                len(gallery),
            )
        return report

    def _on_notification(self, _payload: str) -> None:
        self._notified.set()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._runtime.follow_serving_model()
                self.sync_once()
            except Exception:
                logger.exception("gallery sync failed; retrying in %.1f s", self._interval)
