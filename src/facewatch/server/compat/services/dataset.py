"""The dataset, model and database routes of the old API on Facewatch's people and gallery.

There is no dataset folder and no training here: a person is a Facewatch person, an image
is an enrolment photo (a template), and the gallery changes as soon as a photo is added.
"""

from __future__ import annotations

import logging
from datetime import UTC

from pydantic import ValidationError

from facewatch.errors import Conflict
from facewatch.gallery.gallery import Gallery
from facewatch.server.compat.errors import OldApiRefusal
from facewatch.server.compat.schemas import (
    DatasetOut,
    FaceIdOut,
    LastLocationOut,
    LocationOut,
    PeopleOut,
    PersonIdOut,
)
from facewatch.server.compat.services.ids import (
    UNKNOWN_LABEL,
    all_people,
    compat_id,
    find_person,
    require_person,
)
from facewatch.server.infra.runtime import Runtime
from facewatch.server.infra.sync import read_template_entries, read_template_refs
from facewatch.server.schemas import PersonCreate, PersonOut
from facewatch.server.services import people
from facewatch.server.services.enrollment import Upload, add_faces

logger = logging.getLogger(__name__)

_OLD_TIMESTAMP = "%Y-%m-%d %H:%M:%S"


def list_dataset(runtime: Runtime) -> DatasetOut:
    """Every person's ID and number of enrolled photos."""
    return DatasetOut(
        face_ids=[
            FaceIdOut(id_name=compat_id(p.name), number_of_images=str(p.templates))
            for p in all_people(runtime)
        ]
    )


def create_id(runtime: Runtime, face_id: str) -> PersonOut:
    """Enrol a person under an old ID (no photos yet); refused if the ID is taken."""
    wanted = compat_id(face_id)
    if wanted == UNKNOWN_LABEL:
        raise OldApiRefusal(f"ID {wanted} is reserved: it labels the faces of nobody enrolled.")
    if find_person(runtime, wanted) is not None:
        raise OldApiRefusal(f"ID {wanted} already exists.")
    try:
        data = PersonCreate(name=wanted)
    except ValidationError as exc:
        raise OldApiRefusal(f"invalid ID {wanted!r}: {exc.errors()[0]['msg']}") from None
    try:
        return people.create_person(runtime, data)
    except Conflict:  # created by a concurrent request since the check
        raise OldApiRefusal(f"ID {wanted} already exists.") from None


def delete_id(runtime: Runtime, face_id: str) -> None:
    """Delete a person with every photo, template, detection and crop."""
    people.delete_person(runtime, require_person(runtime, face_id).id)


def add_image(runtime: Runtime, face_id: str, upload: Upload) -> None:
    """Enrol one photo of a person; refused if it holds no usable face.

    A photo already enrolled for this person is accepted again without a second template,
    as re-sending a folder to the old API succeeded.
    """
    person = require_person(runtime, face_id)
    result = add_faces(runtime, person.id, [upload])
    refused = [r for r in result.rejected if r.reason != "duplicate"]
    if refused:
        raise OldApiRefusal(f"Error while adding or training image: {refused[0].message}")


def sync_gallery(runtime: Runtime) -> None:
    """What "training" means here: the gallery matches the database's templates, now.

    Changes made through this server take effect at once, and the server's gallery sync
    follows the other replicas within ``gallery_sync_interval``; this applies whatever they
    changed (people added, deleted, renamed) before returning, as the old clients expect.
    """
    _ = runtime.gallery  # loads the models and the gallery if they are not yet
    # notify=False: this changes nothing in the database, the other replicas have no news.
    runtime.loaded_gallery_do(lambda gallery: _reconcile(runtime, gallery), notify=False)


def _reconcile(runtime: Runtime, gallery: Gallery) -> None:
    # Under the runtime's gallery lock: a change committed meanwhile reaches the gallery
    # after this, never before (so nothing deleted comes back).
    db = runtime.db
    report = gallery.sync(
        read_template_refs(db, gallery.model_id), lambda ids: read_template_entries(db, ids)
    )
    logger.info(
        "gallery synced for a training request: %s templates added, %s removed, %s people renamed",
        report.added,
        report.removed,
        report.renamed,
    )


def list_people_ids(runtime: Runtime) -> PeopleOut:
    """Every person's ID."""
    return PeopleOut(people=[PersonIdOut(face_id=compat_id(p.name)) for p in all_people(runtime)])


def last_known_location(runtime: Runtime, face_id: str) -> LastLocationOut:
    """Where and when a person was last recognised; an empty list if never (or no such ID)."""
    person = find_person(runtime, face_id)
    seen = people.last_seen(runtime, person.id) if person is not None else None
    if seen is None:
        return LastLocationOut(last_known_location=[])
    entry = LocationOut(
        location=seen.location,
        detected_by_camera_id=seen.camera_id,
        timestamp=seen.captured_at.astimezone(UTC).strftime(_OLD_TIMESTAMP),
    )
    return LastLocationOut(last_known_location=[entry])
