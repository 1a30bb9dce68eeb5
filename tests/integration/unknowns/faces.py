"""Helpers of the strangers' tests: real photos as JPEG bytes, the ingest callable's type."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

Ingest = Callable[..., list[dict[str, Any]]]
"""``ingest(image_bytes, camera_id="cam-1", **form)``: the stored detections."""


def jpeg(path: Path, box: tuple[int, int, int, int] | None = None) -> bytes:
    """The photo (or a crop of it) re-encoded as JPEG."""
    image = Image.open(path).convert("RGB")
    if box is not None:
        image = image.crop(box)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()
