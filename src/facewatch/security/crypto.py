"""Encryption at rest: AES-256-GCM envelopes for embeddings and face images, keyed blob names.

A *master key* (32 random bytes, given as base64 in ``encryption_key``) is never used
directly: HKDF-SHA256 derives from it one key that encrypts and one that names blobs.
An encrypted value is an envelope::

    b"FWE\\x01" | key id (4 bytes) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)

The key id tells which master key sealed it, so that a ``Keyring`` holding the current key
and earlier ones can read everything during a rotation. The associated data binds each
envelope to what it holds (``purpose``, e.g. the column ``templates.embedding``): a
ciphertext moved to another column does not open. Values that do not start with the magic
bytes are clear text written before a key was configured; they are read as they are
until ``facewatch admin rotate-key`` encrypts them.

Blob names: a content-addressed store names a blob by the SHA-256 of its bytes, which
would let anyone holding a photo check whether it is stored. With a key, a blob is named by
HMAC-SHA256(naming key, plaintext) instead: still deterministic (the same photo dedupes to
one blob), but unguessable without the key. A rotation renames every blob.

Person keys (crypto-shredding): each enrolled person has a random data key of their own
(``PersonKey``) that seals what identifies them (name, notes, embeddings, the name copied
into events). A person envelope is::

    b"FWP\x01" | person key id (16 bytes) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)

The person key is stored wrapped by the keyring; erasing the person destroys it, which
makes every copy of their ciphertext left anywhere (dead rows, index pages, journals,
backups) unreadable for good. ``Keyring.name_token`` is the keyed hash that keeps names
unique and findable without storing them in clear.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from facewatch.errors import ConfigurationError, EncryptionKeyError

MAGIC = b"FWE\x01"
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES
OVERHEAD = HEADER_BYTES + TAG_BYTES
"""Bytes an envelope adds to its plaintext."""
MASTER_KEY_BYTES = 32
PERSON_MAGIC = b"FWP\x01"
PERSON_KEY_ID_BYTES = 16
PERSON_HEADER_BYTES = len(PERSON_MAGIC) + PERSON_KEY_ID_BYTES + NONCE_BYTES

_DATA_INFO = b"facewatch/data-encryption/v1"
_NAMING_INFO = b"facewatch/blob-naming/v1"
_KEY_ID_INFO = b"facewatch/key-id/v1"
_NAME_TOKEN_DOMAIN = b"facewatch/person-name/v1\x00"


def new_master_key() -> str:
    """A fresh random master key, base64 (URL-safe, unpadded) for ``encryption_key``."""
    return base64.urlsafe_b64encode(os.urandom(MASTER_KEY_BYTES)).rstrip(b"=").decode()


def parse_master_key(text: str) -> bytes:
    """The 32 bytes of a base64 master key (standard or URL-safe, padded or not)."""
    cleaned = "".join(text.split())
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("the encryption key is not valid base64") from None
    if len(raw) != MASTER_KEY_BYTES:
        raise ConfigurationError(
            f"the encryption key must be {MASTER_KEY_BYTES} bytes (base64 of 32 random "
            f"bytes, e.g. from `facewatch admin new-key`), not {len(raw)}"
        )
    return raw


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


@dataclass(frozen=True, slots=True, repr=False)
class DataKey:
    """One master key's derived keys and its public id (never the key itself)."""

    key_id: bytes
    cipher: AESGCM
    naming_key: bytes

    @classmethod
    def from_master(cls, master: bytes) -> DataKey:
        key_id = _derive(master, _KEY_ID_INFO)[:KEY_ID_BYTES]
        return cls(key_id, AESGCM(_derive(master, _DATA_INFO)), _derive(master, _NAMING_INFO))

    def __repr__(self) -> str:
        return f"DataKey(id={self.key_id.hex()})"


def is_encrypted(data: bytes) -> bool:
    """Whether ``data`` is an envelope (else it is clear text from before encryption)."""
    return len(data) >= OVERHEAD and data[: len(MAGIC)] == MAGIC


def envelope_key_id(data: bytes) -> str | None:
    """The hex id of the key that sealed an envelope; None for clear text."""
    if not is_encrypted(data):
        return None
    return data[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES].hex()


class Keyring:
    """The current key (seals everything new) and earlier keys (still open old data)."""

    def __init__(self, current: DataKey, previous: Sequence[DataKey] = ()) -> None:
        self.current = current
        self._by_id = {key.key_id: key for key in (*previous, current)}

    def __repr__(self) -> str:
        return f"Keyring(current={self.current.key_id.hex()}, keys={len(self._by_id)})"

    @classmethod
    def from_texts(cls, current: str, previous: Iterable[str] = ()) -> Keyring:
        """A keyring from base64 master keys."""
        old = [DataKey.from_master(parse_master_key(text)) for text in previous if text.strip()]
        return cls(DataKey.from_master(parse_master_key(current)), old)

    @property
    def current_id(self) -> str:
        return self.current.key_id.hex()

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        """An envelope of ``plaintext`` under the current key, bound to ``purpose``."""
        nonce = os.urandom(NONCE_BYTES)
        header = MAGIC + self.current.key_id + nonce
        aad = _aad(purpose, self.current.key_id)
        return header + self.current.cipher.encrypt(nonce, plaintext, aad)

    def open(self, data: bytes, purpose: str) -> bytes:
        """The plaintext of an envelope (clear text is returned as it is).

        ``EncryptionKeyError`` if no key of the ring sealed it, or it does not authenticate
        (a wrong key, tampering, or a value moved from another purpose).
        """
        if not is_encrypted(data):
            return data
        key_id = data[len(MAGIC) : len(MAGIC) + KEY_ID_BYTES]
        key = self._by_id.get(key_id)
        if key is None:
            raise EncryptionKeyError(
                f"stored data was encrypted with key {key_id.hex()}, which is not configured: "
                "set FACEWATCH_ENCRYPTION_KEY (or add it to FACEWATCH_ENCRYPTION_OLD_KEYS)"
            )
        nonce = data[len(MAGIC) + KEY_ID_BYTES : HEADER_BYTES]
        try:
            return key.cipher.decrypt(nonce, data[HEADER_BYTES:], _aad(purpose, key_id))
        except InvalidTag:
            raise EncryptionKeyError(
                f"encrypted {purpose} does not authenticate: tampered with or misplaced"
            ) from None

    def is_current(self, data: bytes) -> bool:
        """Whether ``data`` is sealed with the current key (nothing to re-encrypt)."""
        return envelope_key_id(data) == self.current_id

    def blob_name(self, plaintext: bytes) -> str:
        """The store key of a blob: HMAC-SHA256 of its bytes under the current naming key."""
        return hmac.new(self.current.naming_key, plaintext, hashlib.sha256).hexdigest()

    def with_fallback(self, key: DataKey) -> Keyring:
        """This keyring, also opening what ``key`` sealed (it seals nothing new)."""
        previous = [k for k in self._by_id.values() if k is not self.current]
        return Keyring(self.current, [key, *previous])

    def name_token(self, name: str) -> str:
        """The keyed hash of a person's name under the current key (unique index, lookups)."""
        return _name_token(self.current.naming_key, name)

    def name_tokens(self, name: str) -> list[str]:
        """The name's token under every key of the ring, the current one first."""
        keys = [self.current, *(k for k in self._by_id.values() if k is not self.current)]
        return [_name_token(key.naming_key, name) for key in keys]


def _name_token(naming_key: bytes, name: str) -> str:
    return hmac.new(naming_key, _NAME_TOKEN_DOMAIN + name.encode(), hashlib.sha256).hexdigest()


def unkeyed_name_token(name: str) -> str:
    """A name's token where no keyring is attached (a bare database, tests of the store)."""
    return hashlib.sha256(_NAME_TOKEN_DOMAIN + name.encode()).hexdigest()


@dataclass(frozen=True, slots=True, repr=False)
class PersonKey:
    """One person's data key; destroying it erases everything sealed under it."""

    key_id: bytes
    secret: bytes
    cipher: AESGCM

    @classmethod
    def new(cls) -> PersonKey:
        """A fresh random key with a random id."""
        return cls.from_parts(os.urandom(PERSON_KEY_ID_BYTES), os.urandom(MASTER_KEY_BYTES))

    @classmethod
    def from_parts(cls, key_id: bytes, secret: bytes) -> PersonKey:
        if len(key_id) != PERSON_KEY_ID_BYTES or len(secret) != MASTER_KEY_BYTES:
            raise EncryptionKeyError("a stored person key is damaged")
        return cls(bytes(key_id), bytes(secret), AESGCM(bytes(secret)))

    def __repr__(self) -> str:
        return f"PersonKey(id={self.key_id.hex()})"

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        """A person envelope of ``plaintext``, bound to ``purpose`` and this key."""
        nonce = os.urandom(NONCE_BYTES)
        aad = _person_aad(purpose, self.key_id)
        return PERSON_MAGIC + self.key_id + nonce + self.cipher.encrypt(nonce, plaintext, aad)

    def open(self, data: bytes, purpose: str) -> bytes:
        """The plaintext of a person envelope sealed with this key."""
        if person_key_id(data) != self.key_id:
            raise EncryptionKeyError(f"{purpose} was not sealed with this person's key")
        nonce = data[len(PERSON_MAGIC) + PERSON_KEY_ID_BYTES : PERSON_HEADER_BYTES]
        try:
            aad = _person_aad(purpose, self.key_id)
            return self.cipher.decrypt(nonce, data[PERSON_HEADER_BYTES:], aad)
        except InvalidTag:
            raise EncryptionKeyError(
                f"encrypted {purpose} does not authenticate: tampered with or misplaced"
            ) from None


def person_key_id(data: bytes) -> bytes | None:
    """The id of the person key that sealed ``data``; None if it is no person envelope."""
    if len(data) < PERSON_HEADER_BYTES + TAG_BYTES or data[: len(PERSON_MAGIC)] != PERSON_MAGIC:
        return None
    return data[len(PERSON_MAGIC) : len(PERSON_MAGIC) + PERSON_KEY_ID_BYTES]


def _person_aad(purpose: str, key_id: bytes) -> bytes:
    return b"facewatch-person:" + purpose.encode() + b":" + key_id


def open_or_refuse(keyring: Keyring | None, data: bytes, purpose: str) -> bytes:
    """Open ``data`` with ``keyring``; without a keyring, clear text only.

    An envelope read with no key configured raises ``EncryptionKeyError``: nothing
    encrypted is readable without the key.
    """
    if keyring is not None:
        return keyring.open(data, purpose)
    if is_encrypted(data):
        raise EncryptionKeyError(
            f"stored {purpose} is encrypted (key {envelope_key_id(data)}) and no "
            "FACEWATCH_ENCRYPTION_KEY is configured"
        )
    return data


def _aad(purpose: str, key_id: bytes) -> bytes:
    return b"facewatch:" + purpose.encode() + b":" + key_id
