"""The server re-clusters strangers on its scheduler unless told not to."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings
from facewatch.server.app import create_app


@pytest.mark.parametrize(("interval", "scheduled"), [(3600.0, True), (0.0, False)])
def test_the_recluster_job_is_scheduled_when_its_interval_is_set(
    tmp_path: Path, interval: float, scheduled: bool
) -> None:
    settings = Settings(data_dir=tmp_path, unknown_recluster_interval=interval)
    with TestClient(create_app(settings, warm_up=False)) as client:
        app = client.app
        assert hasattr(app, "state")
        jobs = {job.name: job for job in app.state.replicas.scheduler.jobs}
        assert ("unknowns.recluster" in jobs) is scheduled
        if scheduled:
            assert jobs["unknowns.recluster"].interval == interval
