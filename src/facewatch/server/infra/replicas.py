"""What keeps one server process in step with the other replicas, started and stopped
together by the app's lifespan: the change feed's listener, the gallery sync and the
scheduler (see ``sync`` and ``scheduler``)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from facewatch.server.infra.scheduler import Scheduler, create_leader_lock
from facewatch.server.infra.sync import GallerySync
from facewatch.server.services.models import (
    MODEL_CHANNEL,
    Reembedder,
    read_status,
    record_target,
)

if TYPE_CHECKING:
    from facewatch.server.infra.runtime import Runtime


_REEMBED_INTERVAL = 2.0
"""Seconds between two shares of a re-embed (a share runs up to ``_REEMBED_BUDGET``)."""
_REEMBED_BUDGET = 20.0


class ReplicaCoordinator:
    """The change feed listener, the gallery sync and the scheduler of one server."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self.feed = runtime.changes
        self.gallery_sync = GallerySync(runtime, self.feed, settings.gallery_sync_interval)
        self.scheduler = Scheduler(create_leader_lock(runtime.db, settings.data_dir))
        # The serving model changed (a re-embed finished on some replica): follow it.
        self.feed.subscribe(MODEL_CHANNEL, self._model_changed)
        self.reembedder = Reembedder(runtime)
        record_target(runtime.uow, self.reembedder.target)  # the newest configuration wins
        self.scheduler.add("models.reembed", _REEMBED_INTERVAL, self._reembed)

    def start(self) -> None:
        """Start listening, syncing and scheduling (threads; returns at once)."""
        self.feed.start()
        self.gallery_sync.start()
        self.scheduler.start()

    def _model_changed(self, _payload: str) -> None:
        # Loading the new model's workers and gallery takes seconds: not on the feed's thread.
        threading.Thread(
            target=self._runtime.follow_serving_model, name="model-switch", daemon=True
        ).start()

    def _reembed(self) -> None:
        """A share of a pending re-embed (on the leading replica), then its status."""
        if self.reembedder.needed:
            self.reembedder.run(budget_seconds=_REEMBED_BUDGET)
        elif (
            self._runtime.model_status is not None and self._runtime.model_status.state == "current"
        ):
            return  # nothing to do, and the status says so already
        self._runtime.model_status = read_status(self._runtime)

    def stop(self) -> None:
        """Stop every thread, give the scheduler lock to another replica, save the gallery."""
        self.scheduler.stop()
        self.gallery_sync.stop()
        self.feed.close()
        self._runtime.save_gallery_snapshot()  # the next start loads from it
