"""/dataset: the people (IDs) and their photos."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, UploadFile

from facewatch.server.compat.auth import EnrollAccess, ReadAccess
from facewatch.server.compat.fields import IMAGE_TO_ADD, required_file
from facewatch.server.compat.routers.common import UPLOAD_ERRORS, compat_router
from facewatch.server.compat.schemas import DatasetOut
from facewatch.server.compat.services import dataset
from facewatch.server.deps import RuntimeDep
from facewatch.server.uploads import read_upload

router = compat_router()


@router.get("/dataset", response_model=DatasetOut)
def get_dataset(runtime: RuntimeDep, _: ReadAccess) -> DatasetOut:
    """Every person's ID and number of photos."""
    return dataset.list_dataset(runtime)


@router.post("/dataset/{face_id}")
def post_dataset_id(face_id: str, runtime: RuntimeDep, _: EnrollAccess) -> None:
    """Add a person: the ID is lower-cased, spaces become underscores (400 if it exists)."""
    dataset.create_id(runtime, face_id)


@router.delete("/dataset/{face_id}")
def delete_dataset_id(face_id: str, runtime: RuntimeDep, _: EnrollAccess) -> None:
    """Remove a person with every photo, template, detection and crop."""
    dataset.delete_id(runtime, face_id)


@router.post("/dataset/{face_id}/image", responses=UPLOAD_ERRORS)
def post_dataset_image(
    face_id: str,
    runtime: RuntimeDep,
    _: EnrollAccess,
    image: Annotated[UploadFile | str | None, File(description=IMAGE_TO_ADD.help)] = None,
) -> None:
    """Add a photo of the person (one usable face); recognisable at once."""
    upload = read_upload(required_file(IMAGE_TO_ADD, image), runtime.settings.max_upload_bytes)
    dataset.add_image(runtime, face_id, upload)
