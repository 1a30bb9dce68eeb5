"""FileBlobStore: content addressing, atomic writes, key validation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from facewatch.config import Settings
from facewatch.errors import ConfigurationError, InvalidInput, NotFound
from facewatch.store.blobs import FileBlobStore, blob_key, create_blob_store

DATA = b"\xff\xd8\xff a face crop"
KEY = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


def test_put_returns_the_sha256_of_the_bytes(store: FileBlobStore) -> None:
    assert store.put(DATA) == KEY == blob_key(DATA)


def test_a_blob_reads_back_byte_for_byte(store: FileBlobStore) -> None:
    assert store.get(store.put(DATA)) == DATA


def test_blobs_are_filed_under_two_levels_of_their_key(store: FileBlobStore) -> None:
    store.put(DATA)
    assert (store.root / KEY[:2] / KEY[2:4] / KEY).read_bytes() == DATA


def test_putting_the_same_bytes_twice_keeps_one_file(store: FileBlobStore) -> None:
    store.put(DATA)
    store.put(DATA)
    assert list(store.keys()) == [KEY]


def test_an_empty_blob_is_a_blob_too(store: FileBlobStore) -> None:
    assert store.get(store.put(b"")) == b""


def test_put_leaves_no_temporary_file_behind(store: FileBlobStore) -> None:
    store.put(DATA)
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == [KEY]


def test_getting_a_missing_blob_raises_not_found(store: FileBlobStore) -> None:
    with pytest.raises(NotFound):
        store.get("0" * 64)


def test_exists_tells_stored_from_missing_blobs(store: FileBlobStore) -> None:
    store.put(DATA)
    assert store.exists(KEY)
    assert not store.exists("0" * 64)


def test_delete_removes_a_blob_and_may_be_repeated(store: FileBlobStore) -> None:
    store.put(DATA)
    store.delete(KEY)
    store.delete(KEY)
    assert not store.exists(KEY)


def test_keys_lists_every_blob_and_skips_stray_files(store: FileBlobStore) -> None:
    keys = {store.put(bytes([i])) for i in range(5)}
    stray_dir = store.root / KEY[:2] / KEY[2:4]
    stray_dir.mkdir(parents=True, exist_ok=True)
    (stray_dir / ".tmp123.tmp").write_bytes(b"half a write")
    (stray_dir / ("1" * 64)).write_bytes(b"misfiled")
    assert set(store.keys()) == keys


def test_keys_of_a_store_never_written_to_is_empty(store: FileBlobStore) -> None:
    assert list(store.keys()) == []


@pytest.mark.parametrize(
    "bad_key",
    [
        "../x",
        "../" + "a" * 61,
        "/etc/passwd",
        "",
        "a" * 63,
        "a" * 65,
        KEY.upper(),
        "g" * 64,
        KEY[:-1] + "/",
        KEY + "\n",
    ],
    ids=[
        "parent",
        "parent-64",
        "absolute",
        "empty",
        "short",
        "long",
        "upper",
        "non-hex",
        "slash",
        "newline",
    ],
)
@pytest.mark.parametrize("operation", ["get", "delete", "exists"])
def test_every_operation_rejects_a_malformed_key(
    store: FileBlobStore, bad_key: str, operation: str
) -> None:
    with pytest.raises(InvalidInput):
        getattr(store, operation)(bad_key)


def test_the_factory_makes_a_file_store_in_the_configured_directory(tmp_path: Path) -> None:
    store = create_blob_store(Settings(data_dir=tmp_path, blob_url=str(tmp_path / "b")))
    assert isinstance(store, FileBlobStore)
    assert store.root == tmp_path / "b"


def test_the_factory_defaults_to_blobs_in_the_data_dir(tmp_path: Path) -> None:
    store = create_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(store, FileBlobStore)
    assert store.root == tmp_path / "blobs"


def test_the_factory_refuses_an_s3_url_without_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="s3://bucket/prefix"):
        create_blob_store(Settings(data_dir=tmp_path, blob_url="s3:///prefix"))
