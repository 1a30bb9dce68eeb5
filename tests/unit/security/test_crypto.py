"""AES-GCM envelopes: round trips, wrong keys, tampering, purposes, rotation, blob names."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facewatch.errors import ConfigurationError, EncryptionKeyError
from facewatch.security.crypto import (
    MAGIC,
    OVERHEAD,
    Keyring,
    envelope_key_id,
    is_encrypted,
    new_master_key,
    open_or_refuse,
    parse_master_key,
)

KEY_A, KEY_B = new_master_key(), new_master_key()
EMBEDDING = bytes(range(256)) * 2  # 512 bytes: a 128-d float32 embedding


def test_a_sealed_value_opens_to_the_same_bytes_and_hides_them() -> None:
    ring = Keyring.from_texts(KEY_A)
    sealed = ring.seal(EMBEDDING, "templates.embedding")
    assert is_encrypted(sealed)
    assert sealed.startswith(MAGIC)
    assert len(sealed) == len(EMBEDDING) + OVERHEAD
    assert EMBEDDING[:32] not in sealed
    assert ring.open(sealed, "templates.embedding") == EMBEDDING


def test_sealing_twice_gives_two_different_envelopes() -> None:
    ring = Keyring.from_texts(KEY_A)
    assert ring.seal(EMBEDDING, "p") != ring.seal(EMBEDDING, "p")


def test_another_key_cannot_open_an_envelope() -> None:
    sealed = Keyring.from_texts(KEY_A).seal(EMBEDDING, "p")
    with pytest.raises(EncryptionKeyError, match="not configured"):
        Keyring.from_texts(KEY_B).open(sealed, "p")


def test_an_envelope_moved_to_another_column_does_not_open() -> None:
    ring = Keyring.from_texts(KEY_A)
    sealed = ring.seal(EMBEDDING, "templates.embedding")
    with pytest.raises(EncryptionKeyError, match="does not authenticate"):
        ring.open(sealed, "detections.embedding")


@pytest.mark.parametrize(
    "position", [4, 8, 20, 100, -1], ids=["key-id", "nonce", "body", "mid", "tag"]
)
def test_a_flipped_bit_anywhere_is_detected(position: int) -> None:
    ring = Keyring.from_texts(KEY_A)
    sealed = bytearray(ring.seal(EMBEDDING, "p"))
    sealed[position] ^= 0x01
    with pytest.raises(EncryptionKeyError):
        ring.open(bytes(sealed), "p")


def test_a_keyring_with_the_old_key_opens_old_and_seals_with_the_new() -> None:
    old = Keyring.from_texts(KEY_A).seal(EMBEDDING, "p")
    ring = Keyring.from_texts(KEY_B, [KEY_A])
    assert ring.open(old, "p") == EMBEDDING
    assert not ring.is_current(old)
    fresh = ring.seal(EMBEDDING, "p")
    assert ring.is_current(fresh)
    assert envelope_key_id(fresh) == ring.current_id != envelope_key_id(old)


def test_clear_text_is_read_as_it_is_with_or_without_a_key() -> None:
    assert Keyring.from_texts(KEY_A).open(EMBEDDING, "p") == EMBEDDING
    assert open_or_refuse(None, EMBEDDING, "p") == EMBEDDING


def test_without_a_key_an_envelope_is_refused() -> None:
    sealed = Keyring.from_texts(KEY_A).seal(EMBEDDING, "p")
    with pytest.raises(EncryptionKeyError, match="no FACEWATCH_ENCRYPTION_KEY"):
        open_or_refuse(None, sealed, "p")


def test_blob_names_are_keyed_not_the_plain_sha256() -> None:
    photo = b"\xff\xd8\xff\xe0 a jpeg"
    name_a = Keyring.from_texts(KEY_A).blob_name(photo)
    assert name_a == Keyring.from_texts(KEY_A).blob_name(photo)  # deduplicates
    assert name_a != hashlib.sha256(photo).hexdigest()
    assert name_a != Keyring.from_texts(KEY_B).blob_name(photo)
    assert len(name_a) == 64
    assert int(name_a, 16) >= 0


@pytest.mark.parametrize(
    "text",
    ["", "not base64 !!", "c2hvcnQ=", new_master_key() + "AAAA"],
    ids=["empty", "garbage", "short", "long"],
)
def test_a_malformed_master_key_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_master_key(text)


def test_a_master_key_is_read_in_either_base64_alphabet() -> None:
    raw = parse_master_key(KEY_A)
    standard = __import__("base64").b64encode(raw).decode()
    assert parse_master_key(standard) == raw


@settings(max_examples=200, derandomize=True, deadline=None)
@given(plaintext=st.binary(max_size=2048), purpose=st.text(min_size=1, max_size=40))
def test_any_bytes_round_trip(plaintext: bytes, purpose: str) -> None:
    ring = Keyring.from_texts(KEY_A)
    assert ring.open(ring.seal(plaintext, purpose), purpose) == plaintext


@settings(max_examples=300, derandomize=True, deadline=None)
@given(data=st.binary(max_size=512))
def test_arbitrary_stored_bytes_open_or_fail_cleanly(data: bytes) -> None:
    ring = Keyring.from_texts(KEY_A)
    candidates = [data, MAGIC + data, MAGIC + ring.current.key_id + data]
    for candidate in candidates:
        with contextlib.suppress(EncryptionKeyError):
            ring.open(candidate, "p")
