"""What watches one camera's pipeline: the track results behind ``--record`` and ``--show``,
and the local alerts of mode local."""

from __future__ import annotations

import logging

from facewatch.edge.alerts import LocalAlert, LocalAlerts
from facewatch.edge.metrics import CameraMetrics
from facewatch.edge.overlay import (
    Display,
    FrameRecorder,
    TrackResult,
    TrackResults,
    Verdict,
    draw,
    verdict_of,
)
from facewatch.edge.recognition import LocalMatch
from facewatch.edge.types import Frame, Shot, TrackedFace
from facewatch.edge.uplink import FaceResult
from facewatch.types import MatchStatus

logger = logging.getLogger(__name__)


class CameraObserver:
    """Keeps each track's result; draws frames for a recorder or a window; raises alerts."""

    def __init__(
        self,
        camera_id: str,
        metrics: CameraMetrics,
        *,
        edge_id: str,
        run_id: str,
        recorder: FrameRecorder | None = None,
        display: Display | None = None,
        alerts: LocalAlerts | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.metrics = metrics
        self.edge_id = edge_id
        self.run_id = run_id
        self.results = TrackResults()
        self.recorder = recorder
        self.display = display
        self.alerts = alerts

    # --- PipelineObserver ---------------------------------------------------------------
    def frame_done(self, frame: Frame, faces: list[TrackedFace]) -> None:
        if self.recorder is None and self.display is None:
            return
        image = draw(frame, faces, self.results)
        if self.recorder is not None:
            self.recorder.write(image)
        if self.display is not None:
            self.display.offer(self.camera_id, image)

    def recognised(self, shot: Shot, verdict: LocalMatch) -> None:
        match = verdict.match
        self.results.note(shot.track_id, TrackResult(verdict_of(match.status.value), match.name))
        if self.alerts is None:
            return
        known = match.status is MatchStatus.KNOWN
        alert = LocalAlert(
            kind="person.recognized" if known else "face.unknown",
            camera_id=self.camera_id,
            edge_id=self.edge_id,
            track_id=f"{self.run_id}-{shot.track_id}",
            captured_at=shot.captured_at.isoformat(),
            person_id=match.person_id if known else None,
            name=match.name if known else None,
            category=verdict.category if known else None,
            distance=match.distance,
            confidence=match.confidence,
            gallery_version=verdict.version,
        )
        if self.alerts.consider(alert, match.status):
            self.metrics.add(alerts=1)

    def track_ended(self, track_id: int) -> None:
        if self.alerts is not None:
            self.alerts.forget_track(self.camera_id, f"{self.run_id}-{track_id}")

    # --- the server's answers -------------------------------------------------------------
    def answered(self, track_id: int, results: tuple[FaceResult, ...]) -> None:
        """The server's verdicts for an item of ``track_id`` (none: it found no face)."""
        if not results:
            self.results.note(track_id, TrackResult(Verdict.NO_FACE))
            return
        best = max(results, key=lambda r: _order(verdict_of(r.status)))
        self.results.note(track_id, TrackResult(verdict_of(best.status), best.name))

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()


def _order(verdict: Verdict) -> int:
    return list(Verdict).index(verdict)
