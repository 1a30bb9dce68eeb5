"""Float32 vectors kept on disk, read back by row: the exact copy behind a quantised index.

The rows live in an unlinked scratch file, read and written with ``pread``/``pwrite``
rather than a memory map: the hot rows stay in the kernel's page cache, which the kernel
may drop under pressure, and do not count in the process's resident memory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from facewatch.gallery.index.base import FloatMatrix, IdArray, IndexFileError

_CHUNK_ROWS = 65_536


class VectorFile:
    """Append-only rows of ``dim`` float32 values; row numbers never change."""

    def __init__(self, dim: int, folder: Path | None = None) -> None:
        self.dim = dim
        self.row_bytes = dim * 4
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        # Open as long as the object lives (closed by close()); unlinked, so never left behind.
        self._file = tempfile.TemporaryFile(prefix="facewatch-vectors-", dir=folder)  # noqa: SIM115
        self._fd = self._file.fileno()
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def append(self, vectors: FloatMatrix) -> int:
        """Write ``vectors`` after the last row; returns the row number of the first."""
        first = self._rows
        data = np.ascontiguousarray(vectors, dtype=np.float32).data.cast("B")
        offset = first * self.row_bytes
        while data:
            written = os.pwrite(self._fd, data, offset)
            data, offset = data[written:], offset + written
        self._rows += vectors.shape[0]
        return first

    def read(self, rows: IdArray) -> FloatMatrix:
        """The given rows, in the order given (a few at a time: one read each)."""
        out = np.empty((rows.shape[0], self.dim), dtype=np.float32)
        for i, row in enumerate(rows.tolist()):
            self._read_into(out[i], row * self.row_bytes)
        return out

    def read_range(self, start: int, stop: int) -> FloatMatrix:
        """Rows ``start`` to ``stop`` (exclusive) in one read."""
        out = np.empty((stop - start, self.dim), dtype=np.float32)
        self._read_into(out, start * self.row_bytes)
        return out

    def chunks(self, rows: IdArray) -> list[IdArray]:
        """``rows`` (sorted) cut into pieces small enough to read as ranges."""
        return [rows[i : i + _CHUNK_ROWS] for i in range(0, rows.shape[0], _CHUNK_ROWS)]

    def read_sorted(self, rows: IdArray) -> FloatMatrix:
        """Many sorted rows, read as the ranges that span them (for rebuilds and copies)."""
        parts = []
        for piece in self.chunks(rows):
            block = self.read_range(int(piece[0]), int(piece[-1]) + 1)
            parts.append(block[piece - piece[0]])
        return np.concatenate(parts) if parts else np.empty((0, self.dim), np.float32)

    def write_npy(self, path: Path) -> None:
        """Every row, as a ``.npy`` file of shape (rows, dim)."""
        with path.open("wb") as stream:
            header = {"descr": "<f4", "fortran_order": False, "shape": (self._rows, self.dim)}
            np.lib.format.write_array_header_1_0(stream, header)
            for start in range(0, self._rows, _CHUNK_ROWS):
                stop = min(start + _CHUNK_ROWS, self._rows)
                stream.write(self.read_range(start, stop).tobytes())

    @classmethod
    def read_npy(cls, path: Path, dim: int, folder: Path | None = None) -> VectorFile:
        """A scratch copy of a ``.npy`` file written by ``write_npy``."""
        try:
            saved = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexFileError(f"cannot read the vectors in {path}: {exc}") from exc
        if saved.dtype != np.float32 or saved.ndim != 2 or saved.shape[1] != dim:
            raise IndexFileError(f"{path} holds {saved.dtype} {saved.shape}, not (n, {dim}) f4")
        copy = cls(dim, folder)
        for start in range(0, saved.shape[0], _CHUNK_ROWS):
            copy.append(np.asarray(saved[start : start + _CHUNK_ROWS]))
        del saved
        return copy

    def drop_cache(self) -> None:
        """Ask the kernel to forget the cached pages (to measure reads from the disk)."""
        os.fsync(self._fd)
        os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def close(self) -> None:
        self._file.close()

    def _read_into(self, out: np.ndarray, offset: int) -> None:
        view = out.data.cast("B")
        while view:
            got = os.preadv(self._fd, [view], offset)
            if got == 0:
                raise IndexFileError("the vector file is shorter than its row count")
            view, offset = view[got:], offset + got
