"""S3BlobStore against a real S3-compatible server over HTTP (moto's server on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facewatch.config import Settings
from facewatch.errors import ConfigurationError, NotFound
from facewatch.store.blobs import (
    BlobStore,
    BlobStoreUnavailable,
    S3BlobStore,
    blob_key,
    create_blob_store,
    parse_s3_url,
)
from facewatch.store.db import Database
from facewatch.store.unit_of_work import UnitOfWork

PHOTO = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes are bytes"


@pytest.fixture
def settings(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> Settings:
    return Settings(
        data_dir=tmp_path, blob_url=f"s3://{s3_bucket}/site-a/blobs", s3_endpoint_url=s3_endpoint
    )


@pytest.fixture
def store(settings: Settings) -> S3BlobStore:
    made = create_blob_store(settings)
    assert isinstance(made, S3BlobStore)
    return made


def test_the_factory_makes_an_s3_store_for_an_s3_url(store: S3BlobStore, s3_bucket: str) -> None:
    assert (store.bucket, store.prefix) == (s3_bucket, "site-a/blobs/")


def test_a_blob_reads_back_byte_for_byte_under_its_sha256(store: S3BlobStore) -> None:
    key = store.put(PHOTO)
    assert key == blob_key(PHOTO)
    assert store.get(key) == PHOTO


def test_objects_are_filed_under_the_prefix_and_two_levels_of_the_key(
    store: S3BlobStore,
) -> None:
    key = store.put(PHOTO)
    assert store.object_key(key) == f"site-a/blobs/{key[:2]}/{key[2:4]}/{key}"


def test_putting_the_same_bytes_twice_keeps_one_object(store: S3BlobStore) -> None:
    store.put(PHOTO)
    store.put(PHOTO)
    assert list(store.keys()) == [blob_key(PHOTO)]


def test_a_missing_blob_is_not_found_and_does_not_exist(store: S3BlobStore) -> None:
    key = blob_key(b"never stored")
    assert not store.exists(key)
    with pytest.raises(NotFound):
        store.get(key)


def test_delete_removes_a_blob_and_may_be_repeated(store: S3BlobStore) -> None:
    key = store.put(PHOTO)
    store.delete(key)
    store.delete(key)
    assert not store.exists(key)


def test_keys_lists_every_blob_and_skips_strangers_under_the_prefix(
    store: S3BlobStore, settings: Settings
) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
    client.put_object(Bucket=store.bucket, Key="site-a/blobs/README.txt", Body=b"x")
    client.put_object(Bucket=store.bucket, Key=f"elsewhere/{blob_key(b'other')}", Body=b"x")
    stored = {store.put(bytes([n]) * 10) for n in range(3)}
    assert set(store.keys()) == stored


def test_a_unit_of_work_that_fails_leaves_no_object_behind(
    store: BlobStore, database: Database
) -> None:
    with UnitOfWork(database, store) as uow:
        key = uow.put_blob(PHOTO)
        assert store.exists(key)
        # Leaving the block without commit() is what a failed request does.
    assert not store.exists(key)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/a/b/", ("bucket", "a/b")),
    ],
)
def test_s3_urls_name_a_bucket_and_a_prefix(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected


def test_a_bucket_that_does_not_exist_stops_start_up_with_its_name(
    settings: Settings, s3_endpoint: str
) -> None:
    missing = settings.model_copy(update={"blob_url": "s3://no-such-bucket-here/x"})
    with pytest.raises(ConfigurationError, match="no-such-bucket-here"):
        create_blob_store(missing)


def test_an_unreachable_endpoint_is_an_os_error_not_a_crash(
    store: S3BlobStore, unused_port: int
) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{unused_port}",
        config=Config(retries={"max_attempts": 1}),
    )
    offline = S3BlobStore(client, store.bucket)
    with pytest.raises(BlobStoreUnavailable):
        offline.put(PHOTO)
