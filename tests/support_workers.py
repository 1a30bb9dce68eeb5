"""A fake analysis worker for the pool's tests (importable as ``support_workers``).

It answers no faces for every image, after writing the image's tag (its first pixel) to
``analysed.log`` in the data directory, so a test can tell which images reached a worker.
An image tagged ``CRASH`` kills the worker as dlib's abort did; one tagged ``SLOW`` takes
``SLOW_SECONDS``, to hold the worker while other images queue.
"""

from __future__ import annotations

import os
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from facewatch.config import Settings
from facewatch.server.infra.workers import READY
from facewatch.types import RGBImage

CRASH = 255
SLOW = 254
SLOW_SECONDS = 1.0


def tagged(tag: int) -> RGBImage:
    """A small image whose tag is ``tag``."""
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    image[0, 0, 0] = tag
    return image


def analysed_log(settings: Settings) -> Path:
    return settings.data_dir / "analysed.log"


def analysed_tags(settings: Settings) -> list[int]:
    """The tags of the images the fake workers took, in order."""
    path = analysed_log(settings)
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def fake_serve(connection: Connection, settings: Settings) -> None:
    """A worker's main loop with no models: see the module."""
    connection.send(READY)
    while True:
        try:
            batch = connection.recv()
        except EOFError:
            return
        if batch is None:
            return
        results: list[list[object]] = []
        for image, _, _ in batch:
            tag = int(image[0, 0, 0])
            with analysed_log(settings).open("a") as log:
                log.write(f"{tag}\n")
            if tag == CRASH:
                os.kill(os.getpid(), signal.SIGKILL)
            if tag == SLOW:
                time.sleep(SLOW_SECONDS)
            results.append([])
        connection.send(results)
