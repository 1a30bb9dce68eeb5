"""/database: who is enrolled and where each person was last recognised."""

from __future__ import annotations

from facewatch.server.compat.auth import ReadAccess
from facewatch.server.compat.routers.common import compat_router
from facewatch.server.compat.schemas import LastLocationOut, PeopleOut
from facewatch.server.compat.services import dataset
from facewatch.server.deps import RuntimeDep

router = compat_router()


@router.get("/database/people", response_model=PeopleOut)
def get_database_people(runtime: RuntimeDep, _: ReadAccess) -> PeopleOut:
    """Every person's ID."""
    return dataset.list_people_ids(runtime)


@router.get("/database/{face_id}/last-known-location", response_model=LastLocationOut)
def get_last_known_location(face_id: str, runtime: RuntimeDep, _: ReadAccess) -> LastLocationOut:
    """The location, camera and UTC time of the person's last detection (empty if never)."""
    return dataset.last_known_location(runtime, face_id)
