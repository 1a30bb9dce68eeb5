"""Settings: the recognition thresholds in force, API keys (admins), dashboard users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from facewatch.dashboard.auth import AdminForm, Viewer
from facewatch.dashboard.web import DashboardRoute, redirect, render
from facewatch.errors import FacewatchError, InvalidInput
from facewatch.server.deps import RuntimeDep
from facewatch.server.security import Scope, parse_scopes
from facewatch.server.services import api_keys, models, users
from facewatch.server.services.users import Permission

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

# (setting, what it means): shown read-only; they are changed in the environment or YAML.
RECOGNITION_SHOWN = (
    ("match_threshold", "At or under this score a face is named."),
    ("unknown_threshold", "At or over this score a face is unknown; between: uncertain."),
    ("margin_weight", "Penalty weight when the runner-up person is almost as near."),
    ("margin_cap", "A lead over the runner-up of this much costs nothing."),
    ("cluster_threshold", "A stranger's face joins the nearest stranger this close."),
)
"""In force for the serving model: set in the environment, else the model's calibrated value."""
SHOWN_SETTINGS = (
    ("top_k", "Candidates kept per face."),
    ("min_face_size", "Smallest face (px) accepted for enrolment."),
    ("min_sharpness", "Least sharpness accepted for enrolment."),
    ("max_yaw", "Most head turn (degrees) accepted for enrolment."),
    ("detector", "Face detector."),
    ("embedder", "Embedding model."),
    ("event_cooldown_seconds", "One event per person and camera within this time."),
    ("session_idle_minutes", "A dashboard session ends after this long idle."),
    ("session_max_hours", "A dashboard session ends this long after login."),
    ("login_max_failures", "Wrong passwords in a row that lock an account."),
    ("login_lockout_minutes", "How long a locked account stays locked."),
)


@router.get("/settings")
def show_settings(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    """Thresholds for everyone; API keys and users for admins."""
    settings, recognition = runtime.settings, runtime.recognition
    shown = [(name, getattr(recognition, name), meaning) for name, meaning in RECOGNITION_SHOWN]
    shown += [
        (name, getattr(settings, name), meaning)
        for name, meaning in SHOWN_SETTINGS
        if hasattr(settings, name)
    ]
    context: dict[str, object] = {
        "settings": shown,
        "scopes": [s.value for s in Scope],
        "models": models.read_status(runtime),
    }
    if user.can(Permission.ADMINISTER):
        context["keys"] = api_keys.list_keys(runtime)
        context["users"] = users.list_users(runtime)
    return render(request, "settings.html", context)


@router.post("/settings/keys")
def create_key(
    request: Request,
    runtime: RuntimeDep,
    _: AdminForm,
    name: Annotated[str, Form(max_length=200)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    expires_days: Annotated[str, Form(max_length=6)] = "",
) -> Response:
    """Make an API key and show it once, on this answer only."""
    try:
        parsed = parse_scopes(scopes or [])
        expires_at = _expiry(expires_days)
        key, secret = api_keys.create_key(
            runtime, name.strip(), [s.value for s in parsed], expires_at=expires_at
        )
        prefix = key.prefix
    except FacewatchError as exc:
        return redirect("/settings", exc.message, error=True)
    # Rendered, not redirected: the secret must never travel in a cookie or a URL.
    return render(request, "key_created.html", {"secret": secret, "prefix": prefix}, 201)


@router.post("/settings/keys/{prefix}/revoke")
def revoke_key(prefix: str, runtime: RuntimeDep, _: AdminForm) -> Response:
    """Revoke an API key at once."""
    api_keys.revoke_key(runtime, prefix)
    return redirect("/settings", f"API key {prefix} revoked.")


def _expiry(days: str) -> datetime | None:
    """When a key made now with a lifetime of ``days`` expires ("" or "0": never)."""
    if not days.strip() or days.strip() == "0":
        return None
    if not days.strip().isdigit() or int(days) > 3650:
        raise InvalidInput("the lifetime must be a number of days up to 3650")
    return datetime.now(UTC) + timedelta(days=int(days))
