"""Corrections: "Wrong person" on a recognised face, and undoing it on the person's page.

"Wrong person" is ``POST /api/v1/unknowns/detections/{id}/not`` with the person the face
was named: the face is un-named now, and later faces nearer to it than to that person's
templates are not named them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Response

from facewatch.dashboard.auth import AdminForm, EnrollForm
from facewatch.dashboard.stranger_views import short_id
from facewatch.dashboard.web import DashboardRoute, redirect, safe_next
from facewatch.errors import FacewatchError
from facewatch.server.deps import RuntimeDep
from facewatch.server.schemas_unknowns import NotRule
from facewatch.server.services import people, unknowns

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
Next = Annotated[str, Form(max_length=2000)]


@router.post("/detections/{detection_id}/wrong-person")
def mark_wrong_person(
    detection_id: int,
    runtime: RuntimeDep,
    _: EnrollForm,
    person_id: Annotated[int, Form()],
    next: Next = "/",
) -> Response:
    """The face is not this person: un-name it and keep look-alikes from being named them."""
    back = safe_next(next)
    try:
        person = people.get_person(runtime, person_id)
        done = unknowns.mark_detection_not(runtime, detection_id, NotRule(person_id=person_id))
    except FacewatchError as exc:
        return redirect(back, exc.message, error=True)
    if done.already:
        return redirect(back, f"Detection {detection_id} was already marked not {person.name}.")
    if done.moved_to is not None:
        now = f"it now belongs to stranger {short_id(done.moved_to)}"
    else:
        now = f"it was no longer named {person.name}"
    lines = [
        f"Detection {detection_id} is not {person.name}: {now}.",
        f"Later faces nearer to it than to {person.name}'s photos will not be named "
        f"{person.name}. An admin can undo this on {person.name}'s page.",
    ]
    return redirect(back, lines)


@router.post("/people/{person_id}/corrections/{rule_id}/undo")
def undo_correction(person_id: int, rule_id: int, runtime: RuntimeDep, _: AdminForm) -> Response:
    """Delete a "not this person" rule (the face stays where it went)."""
    back = f"/people/{person_id}"
    try:
        unknowns.undo_correction(runtime, person_id, rule_id)
    except FacewatchError as exc:
        return redirect(back, exc.message, error=True)
    return redirect(back, "Correction undone: look-alikes of that face may be named again.")
