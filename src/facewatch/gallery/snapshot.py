"""Writing a folder so that readers see the old one or the new one, never half of either."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing_folder(target: Path) -> Iterator[Path]:
    """Yield an empty sibling folder to fill; on success it replaces ``target``.

    On failure the partial folder is deleted and ``target`` is left as it was. The swap
    is two renames: a crash between them leaves the previous folder as ``.<name>.old-*``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous: Path | None = None
    if target.exists():
        previous = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.replace(previous / target.name)
    staging.replace(target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
