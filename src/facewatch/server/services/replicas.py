"""What keeps one server process in step with the other replicas, started and stopped
together by the app's lifespan: the change feed's listener, the gallery sync and the
scheduler (see ``sync`` and ``scheduler``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from facewatch.server.services.scheduler import Scheduler, create_leader_lock
from facewatch.server.services.sync import GallerySync

if TYPE_CHECKING:
    from facewatch.server.services.runtime import Runtime


class ReplicaCoordinator:
    """The change feed listener, the gallery sync and the scheduler of one server."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self.feed = runtime.changes
        self.gallery_sync = GallerySync(runtime, self.feed, settings.gallery_sync_interval)
        self.scheduler = Scheduler(create_leader_lock(runtime.db, settings.data_dir))

    def start(self) -> None:
        """Start listening, syncing and scheduling (threads; returns at once)."""
        self.feed.start()
        self.gallery_sync.start()
        self.scheduler.start()

    def stop(self) -> None:
        """Stop every thread, give the scheduler lock to another replica, save the gallery."""
        self.scheduler.stop()
        self.gallery_sync.stop()
        self.feed.close()
        self._runtime.save_gallery_snapshot()  # the next start loads from it
