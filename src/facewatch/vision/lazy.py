"""A base for model wrappers: cheap to construct, loaded once on first use, one call at a time."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod


class LazyModel(ABC):
    """Loads its model in ``_load`` on first use and serialises calls through ``_lock``.

    dlib and OpenCV objects are not documented as thread-safe, so every wrapper lets one
    thread at a time into its model; different models still run side by side.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._loaded = False

    def load(self) -> None:
        """Load the model now (idempotent); raises ``ModelUnavailable`` if it cannot be loaded."""
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    @abstractmethod
    def _load(self) -> None:
        """Read the model from disk into memory."""
