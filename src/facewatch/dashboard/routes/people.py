"""People: list and search, create, a person's page, enrol photos, edit, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from facewatch.dashboard.auth import AdminForm, EnrollForm, Viewer
from facewatch.dashboard.forms import blank_to_none, parse, read_uploads
from facewatch.dashboard.views import Pager, trail
from facewatch.dashboard.web import DashboardRoute, redirect, render
from facewatch.errors import FacewatchError
from facewatch.server.deps import RuntimeDep
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import FacesAdded, PersonCreate, PersonUpdate, TemplateOut
from facewatch.server.services import people, unknowns
from facewatch.server.services.detections import DetectionQuery, query_detections
from facewatch.server.services.enrollment import add_faces
from facewatch.server.services.users import Permission

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

PAGE_SIZE = 50
TIMELINE_SIZE = 30
TRAIL_DETECTIONS = 200
CATEGORIES = ("authorized", "staff", "visitor", "watchlist")
Text = Annotated[str, Form(max_length=5000)]


@router.get("/people")
def list_people(
    request: Request,
    runtime: RuntimeDep,
    _: Viewer,
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Everyone enrolled, searchable by name and category."""
    page = people.list_people(runtime, blank_to_none(q), blank_to_none(category), offset, PAGE_SIZE)
    context = {
        "page": page,
        "pager": Pager(offset, PAGE_SIZE, page.total),
        "q": q or "",
        "category": category or "",
        "categories": CATEGORIES,
    }
    return render(request, "people.html", context)


@router.post("/people")
def create_person(
    runtime: RuntimeDep,
    _: EnrollForm,
    name: Annotated[str, Form(max_length=200)],
    category: Annotated[str, Form(max_length=40)] = "authorized",
    notes: Text = "",
) -> Response:
    """Add a person, then go to their page to enrol photos."""
    try:
        data = parse(PersonCreate, name=name, category=category.strip(), notes=notes)
        person = people.create_person(runtime, data)
    except FacewatchError as exc:
        return redirect("/people", exc.message, error=True)
    return redirect(f"/people/{person.id}", f"{person.name} created: now add photos.")


@router.get("/people/{person_id}")
def show_person(
    request: Request,
    person_id: int,
    runtime: RuntimeDep,
    user: Viewer,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """A person: photos with their quality, last seen, the timeline and the camera trail."""
    person = people.get_person(runtime, person_id)
    timeline = query_detections(
        runtime, DetectionQuery(person_id=person_id, offset=offset, limit=TIMELINE_SIZE)
    )
    recent = query_detections(runtime, DetectionQuery(person_id=person_id, limit=TRAIL_DETECTIONS))
    context = {
        "person": person,
        "templates": _photos(runtime, person_id),
        "last_seen": people.last_seen(runtime, person_id),
        "timeline": timeline,
        "pager": Pager(offset, TIMELINE_SIZE, timeline.total),
        "trail": trail(recent.items),
        "categories": CATEGORIES,
        "corrections": (
            unknowns.person_corrections(runtime, person_id)
            if user.can(Permission.ADMINISTER)
            else []
        ),
    }
    return render(request, "person.html", context)


@router.post("/people/{person_id}/photos")
def add_photos(
    person_id: int,
    runtime: RuntimeDep,
    _: EnrollForm,
    photos: Annotated[list[UploadFile], File()],
) -> Response:
    """Enrol uploaded or webcam photos; each is accepted or refused with its reason."""
    back = f"/people/{person_id}"
    try:
        uploads, unreadable = read_uploads(photos, runtime.settings.max_upload_bytes)
        result = add_faces(runtime, person_id, uploads, unreadable)
    except FacewatchError as exc:
        return redirect(back, exc.message, error=True)
    partial = bool(result.rejected) or any(a.warnings for a in result.accepted)
    return redirect(back, _enrolment_summary(result), error=not result.accepted, warning=partial)


@router.post("/people/{person_id}/photos/{template_id}/delete")
def delete_photo(person_id: int, template_id: int, runtime: RuntimeDep, _: EnrollForm) -> Response:
    """Delete one enrolment photo (its templates of every model); the person stays."""
    back = f"/people/{person_id}"
    try:
        person = people.get_person(runtime, person_id)
        removed = people.delete_face(runtime, person_id, template_id)
        left = len(_photos(runtime, person_id))
    except FacewatchError as exc:
        return redirect(back, exc.message, error=True)
    lines = [f"Photo deleted ({len(removed)} template(s)); {person.name} has {left} left."]
    if not left:
        lines.append(f"{person.name} cannot be recognised until a photo is enrolled.")
    return redirect(back, lines, warning=not left)


@router.post("/people/{person_id}")
def update_person(
    person_id: int,
    runtime: RuntimeDep,
    _: EnrollForm,
    name: Annotated[str, Form(max_length=200)],
    category: Annotated[str, Form(max_length=40)],
    notes: Text = "",
) -> Response:
    """Change name, category or notes."""
    back = f"/people/{person_id}"
    try:
        data = parse(PersonUpdate, name=name, category=category.strip(), notes=notes)
        person = people.update_person(runtime, person_id, data)
    except FacewatchError as exc:
        return redirect(back, exc.message, error=True)
    return redirect(back, f"{person.name} saved.")


@router.post("/people/{person_id}/delete")
def delete_person(person_id: int, runtime: RuntimeDep, _: AdminForm) -> Response:
    """Delete a person with every photo, template, detection and crop."""
    person = people.get_person(runtime, person_id)
    people.delete_person(runtime, person_id)
    return redirect("/people", f"{person.name} deleted, with every photo and detection.")


def _photos(runtime: Runtime, person_id: int) -> list[TemplateOut]:
    """One template per enrolment photo: another model's template of the same photo is the
    same photo (deleting it deletes both), so it is not shown twice."""
    seen: set[str] = set()
    photos = []
    for template in people.list_faces(runtime, person_id):
        if template.image_sha256 is not None and template.image_sha256 in seen:
            continue
        if template.image_sha256 is not None:
            seen.add(template.image_sha256)
        photos.append(template)
    return photos


def _enrolment_summary(result: FacesAdded) -> list[str]:
    lines = [f"{len(result.accepted)} photo(s) enrolled, {len(result.rejected)} refused."]
    lines += [f"Enrolled {a.file}: {w.message}" for a in result.accepted for w in a.warnings]
    lines += [f"Refused {r.file}: {r.message}" for r in result.rejected]
    return lines
