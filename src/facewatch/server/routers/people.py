"""People: create, list and search, read, change, delete; their enrolment photos; last seen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from facewatch.errors import NotFound
from facewatch.server.deps import EnrollKey, ReadKey, RuntimeDep
from facewatch.server.schemas import (
    ErrorOut,
    LastSeenOut,
    Page,
    PersonCreate,
    PersonOut,
    PersonUpdate,
    TemplateOut,
)
from facewatch.server.services import people

router = APIRouter(prefix="/api/v1/people", tags=["people"])
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422)
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonOut, responses=ERRORS)
def create_person(body: PersonCreate, runtime: RuntimeDep, _: EnrollKey) -> PersonOut:
    """Enrol a new person (add their photos with POST /people/{id}/faces)."""
    return people.create_person(runtime, body)


@router.get("", response_model=Page[PersonOut], responses=ERRORS)
def list_people(
    runtime: RuntimeDep,
    _: ReadKey,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[PersonOut]:
    """List people, optionally searching by name or category."""
    return people.list_people(runtime, q, category, offset, limit)


@router.get("/{person_id}", response_model=PersonOut, responses=ERRORS)
def get_person(person_id: int, runtime: RuntimeDep, _: ReadKey) -> PersonOut:
    """Read one person."""
    return people.get_person(runtime, person_id)


@router.patch("/{person_id}", response_model=PersonOut, responses=ERRORS)
def update_person(
    person_id: int, body: PersonUpdate, runtime: RuntimeDep, _: EnrollKey
) -> PersonOut:
    """Change a person's name, category or notes."""
    return people.update_person(runtime, person_id, body)


@router.delete("/{person_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_person(person_id: int, runtime: RuntimeDep, _: EnrollKey) -> Response:
    """Delete a person with every template, photo, detection and crop of them."""
    people.delete_person(runtime, person_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{person_id}/faces", response_model=list[TemplateOut], responses=ERRORS)
def list_faces(person_id: int, runtime: RuntimeDep, _: ReadKey) -> list[TemplateOut]:
    """List a person's templates: one per enrolment photo and model, with their ids."""
    return people.list_faces(runtime, person_id)


@router.delete(
    "/{person_id}/faces/{template_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERRORS,
)
def delete_face(person_id: int, template_id: int, runtime: RuntimeDep, _: EnrollKey) -> Response:
    """Delete one enrolment photo (its templates of every model), not the person."""
    people.delete_face(runtime, person_id, template_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{person_id}/last-seen", response_model=LastSeenOut, responses=ERRORS)
def get_last_seen(person_id: int, runtime: RuntimeDep, _: ReadKey) -> LastSeenOut:
    """When and where a person was last detected (404 if never)."""
    seen = people.last_seen(runtime, person_id)
    if seen is None:
        raise NotFound(f"person {person_id} has not been seen yet")
    return seen
