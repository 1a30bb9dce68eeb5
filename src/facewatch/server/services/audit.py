"""The audit log for admins: read it, export it, and what the server itself records.

Entries come from three places: the ORM trail (``facewatch.store.audit_trail``: every
change to people, templates, cameras, zones, keys, users, webhooks...), the services that
record their own (logins, erasure, retention, key rotation), and ``AccessRecorder`` for
reads of personal data: recognition and search by photo, searches of someone's sightings
and every export (``SENSITIVE_READS``). ``record_settings`` notes at start-up which settings
differ from the last start.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from facewatch.config import Settings
from facewatch.security import audit
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import Page
from facewatch.server.services.csv_cells import spreadsheet_safe
from facewatch.store.encryption import keyring_of
from facewatch.store.models import AuditEntry
from facewatch.store.repositories.audit import AuditFilter

logger = logging.getLogger(__name__)


class AuditOut(BaseModel):
    """One audit entry on the wire."""

    id: int
    occurred_at: datetime
    actor: str = Field(description="key:<prefix>, user:<name>, cli:<os user> or system")
    address: str = Field(description="The client's address, when over HTTP")
    action: str = Field(description="<kind>.<verb>, e.g. person.deleted, user.login")
    target: str = Field(description="<kind>:<id> of what it was done to")
    outcome: str = Field(description="ok, denied or failed")
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(
            id=entry.id,
            occurred_at=entry.occurred_at,
            actor=entry.actor,
            address=entry.address,
            action=entry.action,
            target=entry.target,
            outcome=entry.outcome,
            details=dict(entry.details or {}),
        )


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


CSV_COLUMNS = ("id", "occurred_at", "actor", "address", "action", "target", "outcome", "details")


def list_entries(
    runtime: Runtime, where: AuditFilter, offset: int = 0, limit: int = 100
) -> Page[AuditOut]:
    """Entries matching ``where``, newest first."""
    if runtime.access_log is not None:
        runtime.access_log.flush()
    with runtime.uow() as uow:
        rows, total = uow.audit.list(where, offset, limit)
        items = [AuditOut.of(row) for row in rows]
    return Page[AuditOut](items=items, total=total, offset=offset, limit=limit)


def export_entries(runtime: Runtime, where: AuditFilter, fmt: ExportFormat) -> Iterator[bytes]:
    """The entries matching ``where``, oldest first, as CSV or JSON Lines chunks.

    The export itself is recorded first (``audit.exported``), in its own transaction.
    """
    record(runtime, "audit.exported", details={"format": fmt.value, **_filter_details(where)})
    if runtime.access_log is not None:
        runtime.access_log.flush()
    with runtime.uow() as uow:
        if fmt is ExportFormat.CSV:
            yield from _csv_chunks(uow.audit.stream(where))
        else:
            for entry in uow.audit.stream(where):
                yield (AuditOut.of(entry).model_dump_json() + "\n").encode()


def _csv_chunks(entries: Iterator[AuditEntry]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for count, entry in enumerate(entries, 1):
        out = AuditOut.of(entry)
        row = [out.id, out.occurred_at.isoformat(), out.actor, out.address, out.action]
        row += [out.target, out.outcome, json.dumps(out.details, sort_keys=True)]
        writer.writerow([spreadsheet_safe(cell) for cell in row])
        if count % 200 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _filter_details(where: AuditFilter) -> dict[str, str]:
    names = ("action", "actor", "target", "outcome", "since", "until")
    return {name: str(getattr(where, name)) for name in names if getattr(where, name) is not None}


def record(
    runtime: Runtime,
    action: str,
    *,
    target: str = "",
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Append one entry in a transaction of its own."""
    with runtime.uow() as uow:
        uow.audit.add(action, target=target, outcome=outcome, details=details, actor=actor)
        uow.commit()


# --- reads of personal data ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SensitiveRead:
    """Requests of ``method`` on a path matching ``path`` are recorded as ``action``."""

    method: str
    path: re.Pattern[str]
    action: str
    when_query: frozenset[str] = frozenset()
    """Recorded only if the query has one of these parameters (empty: always)."""


def _read(method: str, pattern: str, action: str, *when: str) -> SensitiveRead:
    return SensitiveRead(method, re.compile(pattern), action, frozenset(when))


SENSITIVE_READS: tuple[SensitiveRead, ...] = (
    _read("POST", r"/api/v1/recognize", "face.recognized"),
    _read("POST", r"/api/v1/search|/search", "face.searched"),
    _read("GET", r"/api/v1/search/detections/[^/]+", "face.searched"),
    _read("GET", r"/api/v1/reports/[^/]+/export", "data.exported"),
    _read("GET", r"/api/v1/reports/(visits|trail|last-location)", "sightings.searched"),
    _read("GET", r"/api/v1/detections|/detections", "sightings.searched", "person_id", "person"),
)
# Query parameters kept in the entry: ids and times, never free text (a typed name would
# outlive the person's erasure).
_KEPT_PARAMETERS = frozenset(
    {"person_id", "person", "unknown_id", "camera_id", "zone", "since", "until", "format"}
)


def is_sensitive(method: str, path: str, query: dict[str, str]) -> bool:
    """Whether a request is a read of personal data that the audit log records."""
    return sensitive_action(method, path, query) is not None


def sensitive_action(method: str, path: str, query: dict[str, str]) -> str | None:
    """The action a request is recorded as, or None if it is not a sensitive read."""
    for read in SENSITIVE_READS:
        if read.method == method and read.path.fullmatch(path):
            if read.when_query and not read.when_query & {k for k, v in query.items() if v}:
                return None
            return read.action
    return None


def record_access(runtime: Runtime, access: audit.Access) -> None:
    """Record a finished sensitive read now, in a transaction of its own."""
    _write_accesses(runtime, [access])


def _write_accesses(runtime: Runtime, accesses: Sequence[audit.Access]) -> None:
    """Append the entries of ``accesses`` that are recorded, in one transaction."""
    entries = [entry for entry in map(_access_entry, accesses) if entry is not None]
    if not entries:
        return
    try:
        with runtime.uow() as uow:
            for action, outcome, details, access in entries:
                uow.audit.add(
                    action,
                    outcome=outcome,
                    details=details,
                    actor=access.actor,
                    address=access.address,
                )
            uow.commit()
    except Exception:  # never fail a finished request; the log says what was lost
        logger.exception("could not record %s reads in the audit log", len(entries))


def _access_entry(access: audit.Access) -> tuple[str, str, dict[str, Any], audit.Access] | None:
    action = sensitive_action(access.method, access.path, access.query)
    if action is None or access.actor == audit.ANONYMOUS:
        # Requests without valid credentials are not written: a flood of them must not
        # turn into a flood of inserts (the log file has them).
        return None
    if access.status in (401, 403, 429):
        outcome = "denied"
    elif access.status >= 400:
        outcome = "failed"
    else:
        outcome = "ok"
    params = {k: v[:64] for k, v in access.query.items() if k in _KEPT_PARAMETERS and v}
    details: dict[str, Any] = {"method": access.method, "path": access.path[:200]}
    details |= {"status": access.status, **({"query": params} if params else {})}
    return action, outcome, details, access


@dataclass(frozen=True, slots=True)
class _Flush:
    done: threading.Event


class AccessRecorder:
    """Writes the audit entries of sensitive reads from one thread, in batches.

    A recognition is a read of biometric data, so every one is recorded; written one
    transaction each they cost the server about a quarter of its CPU per recognition. Here a
    request only queues its entry (the response has gone by then); the writer wakes at the
    first entry, waits ``max_delay`` seconds and appends what has queued by then in one
    transaction (``max_batch`` entries at most). Reading or exporting the log
    (``list_entries``, ``export_entries``) flushes first, so the log is never read without
    the reads already answered; ``close`` (at shutdown) writes what is left. A crash loses
    at most the last ``max_delay`` seconds of read entries.
    """

    def __init__(self, runtime: Runtime, *, max_delay: float = 0.25, max_batch: int = 500):
        self._runtime = runtime
        self._max_delay = max_delay
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[audit.Access | _Flush | None] = queue.SimpleQueue()
        self._urgent = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-access-log", daemon=True)
        self._thread.start()
        self._closed = False

    def __call__(self, access: audit.Access) -> None:
        """Queue ``access`` (never blocks); written at once if the writer has stopped."""
        if self._closed:
            record_access(self._runtime, access)
        else:
            self._queue.put(access)

    def flush(self, timeout: float = 30.0) -> None:
        """Return once every access queued before the call is written."""
        if self._closed or not self._thread.is_alive():
            return
        marker = _Flush(threading.Event())
        self._queue.put(marker)
        self._urgent.set()
        if not marker.done.wait(timeout):
            logger.warning("the audit log writer did not flush within %s s", timeout)

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        if self._closed:
            return
        self._queue.put(None)
        self._urgent.set()
        self._thread.join()
        self._closed = True

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if isinstance(first, audit.Access):
                # Let the batch gather: the writer wakes once per max_delay, not once per
                # request (each wake-up takes the GIL from the event loop). A flush or a
                # close cuts the wait short.
                self._urgent.wait(self._max_delay)
            self._urgent.clear()
            batch: list[audit.Access] = []
            markers: list[_Flush] = []
            for item in (first, *self._drain()):
                if item is None:
                    stop = True
                elif isinstance(item, _Flush):
                    markers.append(item)
                else:
                    batch.append(item)
            for start in range(0, len(batch), self._max_batch):
                _write_accesses(self._runtime, batch[start : start + self._max_batch])
            for marker in markers:
                marker.done.set()

    def _drain(self) -> list[audit.Access | _Flush | None]:
        """Whatever is queued now."""
        items: list[audit.Access | _Flush | None] = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items


# --- settings --------------------------------------------------------------------------
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
"""The password of a URL such as postgresql://user:password@host/db."""


def settings_snapshot(settings: Settings, runtime: Runtime | None = None) -> dict[str, Any]:
    """Every setting as it can be kept in the log: secrets only as set or unset."""
    snapshot: dict[str, Any] = {}
    for name in sorted(Settings.model_fields):
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            snapshot[name] = "set"
        elif isinstance(value, str):
            snapshot[name] = _URL_PASSWORD.sub(r"\1***@", value)
        elif value is None or isinstance(value, bool | int | float):
            snapshot[name] = value
        else:
            snapshot[name] = str(value)
    if runtime is not None:
        keyring = keyring_of(runtime.db.engine)
        snapshot["encryption_key_id"] = keyring.current_id if keyring else None
    return snapshot


def record_settings(runtime: Runtime) -> list[str]:
    """Record the settings in force if they differ from the last start; the changed names."""
    now = settings_snapshot(runtime.settings, runtime)
    with runtime.uow() as uow:
        last = uow.audit.latest("settings.loaded")
        kept = last.details.get("settings") if last is not None else None
        before: dict[str, Any] = dict(kept) if isinstance(kept, dict) else {}
        changed = sorted(k for k in now.keys() | before.keys() if now.get(k) != before.get(k))
        if changed:
            diff = {k: {"from": before.get(k), "to": now.get(k)} for k in changed} if last else {}
            details = {"settings": now, "changed": diff}
            uow.audit.add("settings.loaded", details=details, actor=audit.SYSTEM)
            uow.commit()
    return changed if before else []
