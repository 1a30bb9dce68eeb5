"""Encryption at rest in the store: encrypted columns and an encrypting blob store.

``EncryptedBytes`` is the column type of every embedding (templates, detections, unknown
identities' centroids): it seals values on the way into the database and opens them on the
way out, with the ``Keyring`` attached to the database's engine (``attach_keyring``), so
repositories and services read and write plain bytes and never see an envelope. Without a
keyring values are written in clear, and an encrypted value read raises
``EncryptionKeyError``.

``PersonSealed`` and ``PersonSealedText`` are the column types of what identifies an
enrolled person (name, notes, their templates' and detections' embeddings, the name copied
into events): a value that carries its person's key (``KeyedText``, ``KeyedBytes``: set by
``facewatch.store.person_keys`` as rows are flushed) is sealed under that key; a value
without one under the keyring, as ``EncryptedBytes`` does. Reading opens either kind; a
person envelope through the person keys attached to the engine (``attach_person_keys``).

``ProtectedBlobStore`` wraps any blob store: photos and crops are sealed before they are
written and named by a keyed hash (see ``facewatch.security.crypto``).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator

from sqlalchemy import Engine, LargeBinary, TypeDecorator
from sqlalchemy.engine import Dialect

from facewatch.config import Settings
from facewatch.errors import EncryptionKeyError
from facewatch.security.crypto import Keyring, PersonKey, open_or_refuse, person_key_id
from facewatch.store.blobs import BlobStore

logger = logging.getLogger(__name__)

BLOB_PURPOSE = "blob"
"""Associated data of every sealed blob."""

# One keyring per engine: SQLAlchemy hands type processors the engine's dialect.
_KEYRINGS: weakref.WeakKeyDictionary[Dialect, Keyring] = weakref.WeakKeyDictionary()
PersonKeyLookup = Callable[[bytes], PersonKey]
"""The person key of an id (``EncryptionKeyError`` if it is gone: the person was erased)."""
_PERSON_KEYS: weakref.WeakKeyDictionary[Dialect, PersonKeyLookup] = weakref.WeakKeyDictionary()


def keyring_from_settings(settings: Settings) -> Keyring | None:
    """The keyring ``encryption_key`` and ``encryption_old_keys`` describe; None if unset."""
    if settings.encryption_key is None:
        return None
    old = settings.encryption_old_keys
    previous = old.get_secret_value().split(",") if old is not None else []
    return Keyring.from_texts(settings.encryption_key.get_secret_value(), previous)


def attach_keyring(engine: Engine, keyring: Keyring | None) -> None:
    """Seal and open the encrypted columns of ``engine`` with ``keyring`` (None: clear)."""
    if keyring is None:
        _KEYRINGS.pop(engine.dialect, None)
    else:
        _KEYRINGS[engine.dialect] = keyring


def keyring_of(engine: Engine) -> Keyring | None:
    """The keyring attached to ``engine``, if any."""
    return _KEYRINGS.get(engine.dialect)


def attach_person_keys(engine: Engine, lookup: PersonKeyLookup) -> None:
    """Open the person envelopes ``engine`` reads with the keys ``lookup`` finds."""
    _PERSON_KEYS[engine.dialect] = lookup


class KeyedText(str):
    """A text value with the person key it is to be sealed under (``PersonSealedText``)."""

    person_key: PersonKey

    def __new__(cls, value: str, person_key: PersonKey) -> KeyedText:
        text = super().__new__(cls, value)
        text.person_key = person_key
        return text


class KeyedBytes(bytes):
    """A binary value with the person key it is to be sealed under (``PersonSealed``)."""

    person_key: PersonKey

    def __new__(cls, value: bytes, person_key: PersonKey) -> KeyedBytes:
        data = super().__new__(cls, value)
        data.person_key = person_key
        return data


def _seal(value: bytes, key: PersonKey | None, purpose: str, dialect: Dialect) -> bytes:
    if key is not None:
        return key.seal(value, purpose)
    keyring = _KEYRINGS.get(dialect)
    return value if keyring is None else keyring.seal(value, purpose)


def _open(data: bytes, purpose: str, dialect: Dialect) -> bytes:
    key_id = person_key_id(data)
    if key_id is None:
        return open_or_refuse(_KEYRINGS.get(dialect), data, purpose)
    lookup = _PERSON_KEYS.get(dialect)
    if lookup is None:
        raise EncryptionKeyError(f"stored {purpose} is sealed with a person key, and none is open")
    return lookup(key_id).open(data, purpose)


class EncryptedBytes(TypeDecorator[bytes]):
    """Binary column whose values are AES-GCM envelopes when a keyring is attached.

    ``purpose`` (e.g. ``"templates.embedding"``) is bound into each envelope: a value
    copied into another column does not open there.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        keyring = _KEYRINGS.get(dialect)
        return bytes(value) if keyring is None else keyring.seal(bytes(value), self.purpose)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return open_or_refuse(_KEYRINGS.get(dialect), bytes(value), self.purpose)


class PersonSealed(TypeDecorator[bytes]):
    """Binary column sealed under its person's key (``KeyedBytes``), else as ``EncryptedBytes``."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        key = getattr(value, "person_key", None)
        return _seal(bytes(value), key, self.purpose, dialect)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else _open(bytes(value), self.purpose, dialect)


class PersonSealedText(TypeDecorator[str]):
    """Text stored as UTF-8 sealed like ``PersonSealed``; ``person_only``: never without a
    person key (a person's own name and notes)."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str, *, person_only: bool = False) -> None:
        super().__init__()
        self.purpose = purpose
        self.person_only = person_only

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        key = getattr(value, "person_key", None)
        if key is None and self.person_only:
            raise EncryptionKeyError(f"{self.purpose} must be sealed with its person's key")
        return _seal(value.encode(), key, self.purpose, dialect)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else _open(bytes(value), self.purpose, dialect).decode()


class ProtectedBlobStore(BlobStore):
    """Seals blobs with the keyring before ``inner`` stores them, under keyed names.

    Without a keyring it stores in clear under SHA-256 names, like ``inner``, but refuses
    to hand out a sealed blob (``EncryptionKeyError``). With one, a blob stored in clear
    before encryption was configured is still read; ``facewatch admin rotate-key`` seals
    and renames those.
    """

    def __init__(self, inner: BlobStore, keyring: Keyring | None) -> None:
        self.inner = inner
        self.keyring = keyring

    def __repr__(self) -> str:
        state = "encrypted" if self.keyring is not None else "clear"
        return f"ProtectedBlobStore({self.inner!r}, {state})"

    def key_for(self, data: bytes) -> str:
        if self.keyring is None:
            return self.inner.key_for(data)
        return self.keyring.blob_name(data)

    def put(self, data: bytes) -> str:
        key = self.key_for(data)
        self.put_as(key, data)
        return key

    def put_as(self, key: str, data: bytes) -> None:
        sealed = data if self.keyring is None else self.keyring.seal(data, BLOB_PURPOSE)
        self.inner.put_as(key, sealed)

    def get(self, key: str) -> bytes:
        return open_or_refuse(self.keyring, self.inner.get(key), BLOB_PURPOSE)

    def get_stored(self, key: str) -> bytes:
        """The bytes of blob ``key`` as stored (an envelope when sealed), not opened."""
        return self.inner.get(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def keys(self) -> Iterator[str]:
        return self.inner.keys()
