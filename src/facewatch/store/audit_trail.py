"""Changes to the records that matter are written to the audit log by the ORM itself.

Mapper events on the watched models append an entry, in the same transaction, whenever a
row is inserted, updated or deleted through the ORM, from whatever route, page, command or
job did it: a change cannot be committed without its entry, and a new route cannot forget
to audit. Entries name records by id and list the fields that changed, never their values
(a person's name must not outlive the person; see ``AuditEntry``).

Busy bookkeeping columns (a key's ``last_used_at``, a user's failed-login count, a
stranger's running centroid) are not changes anyone needs to answer for and are ignored.
Bulk statements (``delete(...)`` without objects) bypass mapper events: the code that runs
them records its own entry (retention purges, erasure).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, event, insert, inspect
from sqlalchemy.orm import Mapper

from facewatch.store.models import (
    ApiKey,
    AuditEntry,
    Base,
    Camera,
    EventRecord,
    Person,
    Template,
    UnknownIdentity,
    User,
    Webhook,
    Zone,
    ZoneAuthorization,
)
from facewatch.store.repositories.audit import entry_values

logger = logging.getLogger(__name__)

Targeter = Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class Watched:
    """How changes of one model are recorded."""

    kind: str
    target: Targeter
    created: str | None = None
    deleted: str | None = None
    updated: str | None = None
    ignored: frozenset[str] = field(default_factory=frozenset)
    """Columns whose changes alone are not audited."""
    special: dict[str, str] = field(default_factory=dict)
    """Column -> action recorded when it changes (instead of ``updated``)."""
    shown: frozenset[str] = field(default_factory=frozenset)
    """Columns whose new value is safe to keep in the entry's details (no personal data)."""


def _by_id(kind: str) -> Targeter:
    return lambda row: f"{kind}:{row.id}"


WATCHED: dict[type[Base], Watched] = {
    Person: Watched(
        "person",
        _by_id("person"),
        "person.created",
        "person.deleted",
        "person.updated",
        frozenset({"updated_at"}),
        shown=frozenset({"category"}),
    ),
    Template: Watched(
        "template",
        lambda t: f"person:{t.person_id}",
        "face.enrolled",
        "face.deleted",
        None,
    ),
    Camera: Watched(
        "camera", _by_id("camera"), "camera.created", "camera.deleted", "camera.updated"
    ),
    Zone: Watched("zone", _by_id("zone"), "zone.created", "zone.deleted", "zone.updated"),
    ZoneAuthorization: Watched(
        "zone", lambda a: f"zone:{a.zone_id}", "zone.authorized", "zone.unauthorized", None
    ),
    Webhook: Watched(
        "webhook",
        _by_id("webhook"),
        "webhook.created",
        "webhook.deleted",
        "webhook.updated",
        shown=frozenset({"active", "event_types"}),
    ),
    ApiKey: Watched(
        "key",
        lambda k: f"key:{k.prefix}",
        "key.created",
        "key.deleted",
        "key.updated",
        frozenset({"last_used_at"}),
        {"revoked_at": "key.revoked", "expires_at": "key.expiry_set"},
        frozenset({"scopes", "expires_at", "rotated_from_id"}),
    ),
    User: Watched(
        "user",
        lambda u: f"user:{u.username}",
        "user.created",
        "user.removed",
        "user.updated",
        frozenset({"failed_logins", "locked_until", "last_login_at", "updated_at"}),
        {"role": "user.role_changed", "password_hash": "user.password_changed"},
        frozenset({"role"}),
    ),
    UnknownIdentity: Watched(
        "unknown",
        _by_id("unknown"),
        None,
        "unknown.deleted",
        None,
        frozenset({"centroid", "faces", "last_seen_at", "updated_at", "first_seen_at"}),
        {"person_id": "unknown.named"},
        frozenset({"person_id"}),
    ),
    EventRecord: Watched(
        "event",
        _by_id("event"),
        None,
        None,
        None,
        special={"acknowledged_at": "event.acknowledged"},
    ),
}


def install_audit_trail() -> None:
    """Register the mapper events (idempotent; done when a runtime opens)."""
    for model in WATCHED:
        for name, listener in _LISTENERS.items():
            if not event.contains(model, name, listener):
                event.listen(model, name, listener)


def _after_insert(mapper: Mapper[Any], connection: Connection, row: Any) -> None:
    watched = WATCHED[mapper.class_]
    if watched.created is not None:
        details = {"id": row.id, **_shown(row, watched, watched.shown)}
        _write(connection, watched.created, watched.target(row), details)


def _after_delete(mapper: Mapper[Any], connection: Connection, row: Any) -> None:
    watched = WATCHED[mapper.class_]
    if watched.deleted is not None:
        _write(connection, watched.deleted, watched.target(row), {"id": row.id})


def _after_update(mapper: Mapper[Any], connection: Connection, row: Any) -> None:
    watched = WATCHED[mapper.class_]
    changed = _changed_columns(row, mapper) - watched.ignored
    if not changed:
        return
    for column in sorted(changed & set(watched.special)):
        details = _shown(row, watched, {column} & watched.shown)
        _write(connection, watched.special[column], watched.target(row), details)
    plain = changed - set(watched.special)
    if plain and watched.updated is not None:
        details = {"fields": sorted(plain), **_shown(row, watched, plain & watched.shown)}
        _write(connection, watched.updated, watched.target(row), details)


_LISTENERS: dict[str, Callable[[Mapper[Any], Connection, Any], None]] = {
    "after_insert": _after_insert,
    "after_update": _after_update,
    "after_delete": _after_delete,
}


def _changed_columns(row: Any, mapper: Mapper[Any]) -> set[str]:
    state = inspect(row)
    return {attr.key for attr in mapper.column_attrs if state.attrs[attr.key].history.has_changes()}


def _shown(row: Any, watched: Watched, columns: set[str] | frozenset[str]) -> dict[str, Any]:
    return {column: _jsonable(getattr(row, column)) for column in sorted(columns)}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return list(value)
    return value


def _write(connection: Connection, action: str, target: str, details: dict[str, Any]) -> None:
    values = entry_values(action, target=target, details=details)
    connection.execute(insert(AuditEntry).values(**values))
