"""CameraRepository against a real migrated database."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from facewatch.errors import Conflict, InvalidInput, NotFound
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import MatchStatus

UowFactory = Callable[[], UnitOfWork]


def test_a_camera_reads_back_as_added(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.cameras.add("gate-1", "Gate", "HQ", "B", "north gate", 48.85, 2.35)
        uow.commit()
    with uow_factory() as uow:
        camera = uow.cameras.get("gate-1")
        assert (camera.name, camera.site, camera.zone, camera.location) == (
            "Gate",
            "HQ",
            "B",
            "north gate",
        )
        assert (camera.latitude, camera.longitude) == (48.85, 2.35)


def test_a_duplicate_camera_id_is_a_conflict(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.cameras.add("gate-1", "Gate")
        uow.commit()
    with uow_factory() as uow, pytest.raises(Conflict):
        uow.cameras.add("gate-1", "Other gate")


def test_an_unknown_camera_is_not_found(uow_factory: UowFactory) -> None:
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.cameras.get("nope")


@pytest.mark.parametrize("camera_id", ["", "../etc", "has space", "x" * 65, "-lead"])
def test_an_unsafe_camera_id_is_invalid_input(uow_factory: UowFactory, camera_id: str) -> None:
    with uow_factory() as uow, pytest.raises(InvalidInput):
        uow.cameras.add(camera_id, "Gate")


@pytest.mark.parametrize(("latitude", "longitude"), [(91.0, 0.0), (0.0, -180.5)])
def test_coordinates_off_the_globe_are_invalid_input(
    uow_factory: UowFactory, latitude: float, longitude: float
) -> None:
    with uow_factory() as uow, pytest.raises(InvalidInput):
        uow.cameras.add("gate-1", "Gate", latitude=latitude, longitude=longitude)


def test_cameras_are_listed_by_site_zone_and_name(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.cameras.add("c3", "Lobby", site="B")
        uow.cameras.add("c2", "Yard", site="A", zone="2")
        uow.cameras.add("c1", "Door", site="A", zone="1")
        uow.commit()
    with uow_factory() as uow:
        cameras, total = uow.cameras.list()
        assert ([c.id for c in cameras], total) == (["c1", "c2", "c3"], 3)
        assert [c.id for c in uow.cameras.list(offset=1, limit=1)[0]] == ["c2"]


def test_updating_a_camera_can_clear_its_coordinates(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.cameras.add("gate-1", "Gate", latitude=1.0, longitude=2.0)
        uow.commit()
    with uow_factory() as uow:
        uow.cameras.update(uow.cameras.get("gate-1"), zone="Z", latitude=None, longitude=None)
        uow.commit()
    with uow_factory() as uow:
        camera = uow.cameras.get("gate-1")
        assert (camera.name, camera.zone, camera.latitude, camera.longitude) == (
            "Gate",
            "Z",
            None,
            None,
        )


def test_deleting_a_camera_keeps_its_detections_without_camera(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.cameras.add("gate-1", "Gate")
        detection = uow.detections.add(
            captured_at=datetime(2024, 1, 1, tzinfo=UTC),
            camera_id="gate-1",
            status=MatchStatus.UNKNOWN,
            confidence=0.0,
            box=[0, 0, 1, 1],
            quality=0.5,
        )
        uow.commit()
    with uow_factory() as uow:
        uow.cameras.delete(uow.cameras.get("gate-1"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.detections.get(detection.id).camera_id is None
        with pytest.raises(NotFound):
            uow.cameras.get("gate-1")


def test_ensure_registers_a_new_camera_once_under_concurrent_first_sightings(
    uow_factory: UowFactory,
) -> None:
    def first_sighting(camera_id: str) -> str:
        with uow_factory() as uow:
            camera = uow.cameras.ensure(camera_id)
            uow.commit()
            return camera.name

    cameras = [f"race-{n}" for n in range(10) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        names = list(pool.map(first_sighting, cameras))
    assert names == cameras  # every request got the camera, named after its id
    with uow_factory() as uow:
        assert uow.cameras.list(limit=100)[1] == 10


def test_ensure_keeps_a_described_camera_as_it_is(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.cameras.add("gate-9", "North gate", site="HQ")
        uow.commit()
    with uow_factory() as uow:
        camera = uow.cameras.ensure("gate-9")
        assert (camera.name, camera.site) == ("North gate", "HQ")


def test_ensure_refuses_an_invalid_camera_id(uow_factory: UowFactory) -> None:
    with uow_factory() as uow, pytest.raises(InvalidInput):
        uow.cameras.ensure("bad id!")
