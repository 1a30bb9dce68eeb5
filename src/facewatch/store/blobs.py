"""Content-addressed storage for images and face crops: the key of a blob is its SHA-256.

``BlobStore`` is the interface; ``FileBlobStore`` keeps blobs as files on a local or
mounted filesystem (a shared volume for several replicas), ``S3BlobStore`` as objects in
S3-compatible storage (boto3, the ``s3`` extra). ``create_blob_store`` picks one from
``blob_url``: a directory, or ``s3://bucket/prefix``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from facewatch.config import Settings
from facewatch.errors import ConfigurationError, InvalidInput, NotFound

logger = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f]{64}")


def blob_key(data: bytes) -> str:
    """The key a blob with these bytes has: its SHA-256, as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def is_blob_key(key: str) -> bool:
    """Whether ``key`` has the form of a blob key."""
    return _KEY.fullmatch(key) is not None


def check_blob_key(key: str) -> str:
    """Return ``key`` if it is 64 lowercase hex digits; raise ``InvalidInput`` otherwise."""
    if not isinstance(key, str) or not is_blob_key(key):
        raise InvalidInput(f"invalid blob key {key!r}: expected 64 lowercase hex digits")
    return key


class BlobStoreUnavailable(OSError):
    """The blob store could not be reached or refused the operation (not a missing blob).

    An ``OSError``, like the file store's failures, so callers handle both stores alike.
    """


class BlobStore(ABC):
    """Immutable blobs addressed by the SHA-256 of their bytes."""

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data`` (a no-op if already stored) and return its key."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes of blob ``key``; ``NotFound`` if there is none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove blob ``key``; deleting a missing blob is not an error."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether blob ``key`` is stored."""

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every stored key, in no particular order (for scans such as orphan clean-up)."""

    def key_for(self, data: bytes) -> str:
        """The key ``put(data)`` stores ``data`` under (an encrypting store keys otherwise)."""
        return blob_key(data)

    def put_as(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` as given (for stores that wrap this one)."""
        raise NotImplementedError(f"{type(self).__name__} cannot store under a given key")


class FileBlobStore(BlobStore):
    """Blobs as files ``root/ab/cd/<sha256>``, written atomically and fsynced."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FileBlobStore({str(self.root)!r})"

    def path_for(self, key: str) -> Path:
        """Where blob ``key`` lives (whether or not it exists)."""
        check_blob_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        key = blob_key(data)
        self.put_as(key, data)
        return key

    def put_as(self, key: str, data: bytes) -> None:
        path = self.path_for(key)
        if not path.is_file():
            _write_atomically(path, data)

    def get(self, key: str) -> bytes:
        try:
            return self.path_for(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"blob {key} not found") from None

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def keys(self) -> Iterator[str]:
        for path in self.root.glob("??/??/*"):
            # Skips temporary files left by a crash mid-write, and any stranger.
            if path == self._path_if_key(path.name):
                yield path.name

    def _path_if_key(self, name: str) -> Path | None:
        return self.path_for(name) if is_blob_key(name) else None


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it into place.

    Readers see either no file or the whole blob, never a torn one, even after a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        Path(temp_name).replace(path)  # os.replace: atomic on POSIX and Windows
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself (POSIX); a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class S3BlobStore(BlobStore):
    """Blobs as objects ``<prefix>ab/cd/<sha256>`` in a bucket of S3-compatible storage.

    S3 writes are atomic (a reader sees no object or the whole one), and content
    addressing makes a repeated ``put`` of the same bytes harmless, so ``put`` needs no
    lookup first. Errors other than "no such blob" become ``BlobStoreUnavailable``.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def __repr__(self) -> str:
        return f"S3BlobStore('s3://{self.bucket}/{self.prefix}')"

    def check_bucket(self) -> None:
        """Fail now, with a clear message, if the bucket cannot be reached."""
        try:
            with _s3_errors(f"open bucket {self.bucket}"):
                self._client.head_bucket(Bucket=self.bucket)
        except (_Missing, BlobStoreUnavailable) as exc:
            detail = "it does not exist" if isinstance(exc, _Missing) else str(exc)
            raise ConfigurationError(f"cannot use S3 bucket {self.bucket!r}: {detail}") from exc

    def object_key(self, key: str) -> str:
        """The object name of blob ``key`` in the bucket."""
        check_blob_key(key)
        return f"{self.prefix}{key[:2]}/{key[2:4]}/{key}"

    def put(self, data: bytes) -> str:
        key = blob_key(data)
        self.put_as(key, data)
        return key

    def put_as(self, key: str, data: bytes) -> None:
        with _s3_errors(f"store blob {key}"):
            self._client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)

    def get(self, key: str) -> bytes:
        name = self.object_key(key)
        try:
            with _s3_errors(f"read blob {key}"):
                response = self._client.get_object(Bucket=self.bucket, Key=name)
                data: bytes = response["Body"].read()
        except _Missing:
            raise NotFound(f"blob {key} not found") from None
        return data

    def delete(self, key: str) -> None:
        name = self.object_key(key)
        with _s3_errors(f"delete blob {key}"):
            self._client.delete_object(Bucket=self.bucket, Key=name)

    def exists(self, key: str) -> bool:
        name = self.object_key(key)
        try:
            with _s3_errors(f"look up blob {key}"):
                self._client.head_object(Bucket=self.bucket, Key=name)
        except _Missing:
            return False
        return True

    def keys(self) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        with _s3_errors("list blobs"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = item["Key"].rpartition("/")[2]
                    # Skips strangers under the prefix, as the file store does.
                    if is_blob_key(name) and item["Key"] == self.object_key(name):
                        yield name


class _Missing(Exception):
    """S3 said the object does not exist (404, NoSuchKey)."""


_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


@contextlib.contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    """Turn botocore's errors into ``_Missing`` or ``BlobStoreUnavailable``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING_CODES:
            raise _Missing from exc
        raise BlobStoreUnavailable(f"S3 refused to {action}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise BlobStoreUnavailable(f"cannot {action} in S3: {exc}") from exc


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigurationError(f"blob_url {url!r} is not of the form s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


def _s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the configured endpoint and credentials."""
    try:
        import boto3
        from botocore.config import Config
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "s3:// blob storage needs boto3: pip install 'facewatch[s3]'"
        ) from exc
    secret = settings.s3_secret_access_key
    config = Config(
        # Many S3-compatible servers reject the newer default CRC checksums.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 4, "mode": "standard"},
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=config,
    )


def create_blob_store(settings: Settings) -> BlobStore:
    """The blob store ``settings`` ask for: a directory, or ``s3://bucket/prefix``."""
    if settings.blob_url and settings.blob_url.startswith("s3://"):
        bucket, prefix = parse_s3_url(settings.blob_url)
        s3 = S3BlobStore(_s3_client(settings), bucket, prefix)
        s3.check_bucket()
        store: BlobStore = s3
    else:
        store = FileBlobStore(settings.blob_dir)
    logger.debug("blob store: %r", store)
    return store
