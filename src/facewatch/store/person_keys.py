"""Person keys: what identifies a person is sealed under a key of their own (crypto-shredding).

Every person gets a random ``PersonKey`` when their row is inserted; it is stored in
``person_keys``, wrapped by the keyring (``EncryptedBytes``). As rows are flushed, the
mapper events below hand the values that identify someone (a person's name and notes, the
embeddings of their templates and detections, their name in events) to the column types
as ``KeyedText`` / ``KeyedBytes``, so they are sealed under that person's key; reads open
them through ``PersonKeyCache``, attached to the engine, which loads the keys it lacks.

Erasing a person deletes their key row (``ON DELETE CASCADE``); ``purge_erased_keys`` then
rewrites the key table on PostgreSQL (``VACUUM FULL``: the old file with the dead row goes)
so that no page of any table file can unwrap the key again. Copies of the ciphertext left in
dead rows, index pages, the journal or a backup are then noise (docs/security.md).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, inspect, select, text
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.pool import StaticPool

from facewatch.errors import EncryptionKeyError
from facewatch.security.crypto import DataKey, Keyring, PersonKey, unkeyed_name_token
from facewatch.store.encryption import (
    KeyedBytes,
    KeyedText,
    attach_person_keys,
    keyring_of,
)
from facewatch.store.models import (
    Detection,
    EventRecord,
    InstallKey,
    Person,
    PersonKeyRecord,
    Template,
)

logger = logging.getLogger(__name__)

FRESH_SECONDS = 600.0
"""A key made here is kept this long even if a reload does not find it (not committed yet)."""
PURGE_LOCK_TIMEOUT = "10s"


class PersonKeyCache:
    """The person keys of one database, unwrapped, by key id and by person id."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._by_id: dict[bytes, PersonKey] = {}
        self._id_of_person: dict[int, bytes] = {}
        self._fresh: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PersonKeyCache(keys={len(self._by_id)})"

    def new(self) -> PersonKey:
        """A new key, known here at once (its row commits with its person's)."""
        key = PersonKey.new()
        with self._lock:
            self._by_id[key.key_id] = key
            self._fresh[key.key_id] = time.monotonic()
        return key

    def get(self, key_id: bytes) -> PersonKey:
        """The key ``key_id``; ``EncryptionKeyError`` if it is not stored (erased)."""
        key = self._by_id.get(key_id)
        if key is None:
            self._reload()
            key = self._by_id.get(key_id)
        if key is None:
            raise EncryptionKeyError(
                f"person key {key_id.hex()} is gone: what it sealed belongs to an erased person"
            )
        return key

    def for_person(self, connection: Connection, person_id: int) -> PersonKey | None:
        """The key of person ``person_id``, read in ``connection``'s transaction if needed."""
        key_id = self._id_of_person.get(person_id)
        if key_id is not None and key_id in self._by_id:
            return self._by_id[key_id]
        row = connection.execute(
            select(PersonKeyRecord.id, PersonKeyRecord.key).where(
                PersonKeyRecord.person_id == person_id
            )
        ).first()
        if row is None:
            return None
        key = PersonKey.from_parts(row.id, row.key)
        with self._lock:
            self._by_id[key.key_id] = key
            self._id_of_person[person_id] = key.key_id
        return key

    def remember(self, person_id: int, key: PersonKey) -> None:
        with self._lock:
            self._id_of_person[person_id] = key.key_id

    def forget(self, key_id: bytes) -> None:
        """Drop an erased person's key from memory."""
        with self._lock:
            self._by_id.pop(key_id, None)
            self._fresh.pop(key_id, None)
            for person_id in [p for p, k in self._id_of_person.items() if k == key_id]:
                del self._id_of_person[person_id]

    def _reload(self) -> None:
        """Read every stored key (also drops keys erased by another process)."""
        engine = self._engine()
        if engine is None or isinstance(engine.pool, StaticPool):
            return  # an in-memory database: every key was made in this process
        statement = select(PersonKeyRecord.id, PersonKeyRecord.person_id, PersonKeyRecord.key)
        with self._lock, engine.connect() as connection:
            rows = connection.execute(statement).all()
            now = time.monotonic()
            fresh = {k: t for k, t in self._fresh.items() if now - t < FRESH_SECONDS}
            by_id = {k: v for k, v in self._by_id.items() if k in fresh}
            by_id.update({row.id: PersonKey.from_parts(row.id, row.key) for row in rows})
            self._by_id, self._fresh = by_id, fresh
            self._id_of_person = {row.person_id: row.id for row in rows}


_CACHES: weakref.WeakKeyDictionary[Engine, PersonKeyCache] = weakref.WeakKeyDictionary()


def person_keys_of(engine: Engine) -> PersonKeyCache:
    """The person key cache of ``engine``, made and attached on first use."""
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = PersonKeyCache(engine)
        attach_person_keys(engine, cache.get)
    return cache


def install_keyring(engine: Engine, configured: Keyring | None) -> Keyring:
    """The keyring of this install: the configured one, which also opens what the install
    key sealed; or, with no key configured, the install key (stored in the database)."""
    with engine.connect() as connection:
        master = connection.scalar(select(InstallKey.key).order_by(InstallKey.id).limit(1))
    if master is None:
        raise EncryptionKeyError("the database has no install key: run `facewatch admin migrate`")
    install = DataKey.from_master(bytes(master))
    return Keyring(install) if configured is None else configured.with_fallback(install)


def name_tokens(session: Session, name: str) -> list[str]:
    """Every token ``name`` may be stored under (the current key's first)."""
    keyring = keyring_of(session.get_bind().engine)
    return [unkeyed_name_token(name)] if keyring is None else keyring.name_tokens(name)


def key_id_of_person(session: Session, person_id: int) -> bytes | None:
    """The id of person ``person_id``'s key, if they have one."""
    return session.scalar(select(PersonKeyRecord.id).where(PersonKeyRecord.person_id == person_id))


def purge_erased_keys(engine: Engine) -> bool:
    """Leave no page holding an erased key; whether that could be done now.

    PostgreSQL keeps a deleted row in the table file until VACUUM, and plain VACUUM may
    leave its bytes in free space: ``VACUUM FULL`` writes the (small) table anew and the old
    file goes. SQLite overwrites deleted rows itself (``secure_delete``); its journal is
    emptied by the caller.
    """
    if engine.dialect.name != "postgresql":
        return True
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"SET lock_timeout = '{PURGE_LOCK_TIMEOUT}'"))
            connection.execute(text(f"VACUUM FULL {PersonKeyRecord.__tablename__}"))
    except Exception:  # a busy table: the next erasure (or VACUUM FULL by hand) purges
        logger.warning("could not rewrite person_keys after an erasure; VACUUM FULL it")
        return False
    return True


# --- sealing rows as they are flushed ---------------------------------------------------


def _changed(target: object, attribute: str) -> bool:
    return bool(inspect(target).attrs[attribute].history.has_changes())


def _keyed(value: Any, key: PersonKey) -> Any:
    if value is None or getattr(value, "person_key", None) is key:
        return value
    return KeyedText(value, key) if isinstance(value, str) else KeyedBytes(bytes(value), key)


@event.listens_for(Person, "before_insert")
def _new_person(_mapper: Mapper[Person], connection: Connection, person: Person) -> None:
    key = person_keys_of(connection.engine).new()
    person.name = _keyed(person.name, key)
    person.notes = _keyed(person.notes or "", key)
    person.name_key = _token(connection, person.name)
    person.__dict__["_person_key"] = key


@event.listens_for(Person, "after_insert")
def _store_person_key(_mapper: Mapper[Person], connection: Connection, person: Person) -> None:
    key: PersonKey = person.__dict__.pop("_person_key")
    connection.execute(
        insert(PersonKeyRecord).values(id=key.key_id, person_id=person.id, key=key.secret)
    )
    person_keys_of(connection.engine).remember(person.id, key)


@event.listens_for(Person, "before_update")
def _reseal_person(_mapper: Mapper[Person], connection: Connection, person: Person) -> None:
    changed = [a for a in ("name", "notes") if _changed(person, a)]
    if not changed:
        return
    key = person_keys_of(connection.engine).for_person(connection, person.id)
    if key is None:
        raise EncryptionKeyError(f"person {person.id} has no key: run `facewatch admin migrate`")
    for attribute in changed:
        setattr(person, attribute, _keyed(getattr(person, attribute), key))
    if "name" in changed:
        person.name_key = _token(connection, person.name)


def _token(connection: Connection, name: str) -> str:
    keyring = keyring_of(connection.engine)
    return unkeyed_name_token(name) if keyring is None else keyring.name_token(name)


def _seal_with_person(connection: Connection, row: Any, attribute: str, *, always: bool) -> None:
    """Hand ``row.<attribute>`` to its column with the key of ``row.person_id``."""
    if row.person_id is None or not (always or _changed(row, attribute)):
        return
    value = getattr(row, attribute)
    if value is None:
        return
    key = person_keys_of(connection.engine).for_person(connection, row.person_id)
    if key is not None:
        setattr(row, attribute, _keyed(value, key))


_SEALED = ((Template, "embedding"), (Detection, "embedding"), (EventRecord, "person_name"))


def _listen(model: type[Any], attribute: str) -> None:
    def before_insert(_mapper: Mapper[Any], connection: Connection, row: Any) -> None:
        _seal_with_person(connection, row, attribute, always=True)

    def before_update(_mapper: Mapper[Any], connection: Connection, row: Any) -> None:
        # A row moved to another person is sealed again, under the new person's key.
        _seal_with_person(connection, row, attribute, always=_changed(row, "person_id"))

    event.listen(model, "before_insert", before_insert)
    event.listen(model, "before_update", before_update)


for _model, _attribute in _SEALED:
    _listen(_model, _attribute)
