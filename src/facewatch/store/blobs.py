"""Content-addressed storage for images and face crops: the key of a blob is its SHA-256.

``BlobStore`` is the interface; ``FileBlobStore`` keeps blobs as files on a local or
mounted filesystem. An S3 store will sit beside it, chosen by ``create_blob_store``.
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

from facewatch.config import Settings
from facewatch.errors import InvalidInput, NotFound

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
        path = self.path_for(key)
        if not path.is_file():
            _write_atomically(path, data)
        return key

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


def create_blob_store(settings: Settings) -> BlobStore:
    """The blob store ``settings`` ask for (a directory; S3 is not available yet)."""
    root = settings.blob_dir  # raises ConfigurationError for s3:// URLs
    logger.debug("blob store at %s", root)
    return FileBlobStore(root)
