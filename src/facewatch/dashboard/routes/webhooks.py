"""Webhooks (admins only): register, pause, delete, and each one's delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from facewatch.dashboard.auth import AdminForm, Administrator
from facewatch.dashboard.forms import parse
from facewatch.dashboard.views import Pager
from facewatch.dashboard.web import DashboardRoute, redirect, render
from facewatch.errors import FacewatchError
from facewatch.server.deps import RuntimeDep
from facewatch.server.events import EventType
from facewatch.server.events.schemas import WebhookCreate, WebhookUpdate
from facewatch.server.services import webhooks

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
MAX_WEBHOOKS = 200
LOG_SIZE = 50


@router.get("/webhooks")
def list_webhooks(request: Request, runtime: RuntimeDep, _: Administrator) -> Response:
    """Every webhook with the event types it receives."""
    context = {
        "webhooks": webhooks.list_webhooks(runtime, 0, MAX_WEBHOOKS).items,
        "event_types": [t.value for t in EventType],
    }
    return render(request, "webhooks.html", context)


@router.post("/webhooks")
def create_webhook(
    request: Request,
    runtime: RuntimeDep,
    _: AdminForm,
    url: Annotated[str, Form(max_length=2000)],
    event_types: Annotated[list[str] | None, Form()] = None,
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Register a URL; its signing secret is shown once, on this answer."""
    try:
        body = parse(
            WebhookCreate,
            url=url.strip(),
            event_types=event_types or [t.value for t in EventType],
            description=description,
        )
        created = webhooks.create_webhook(runtime, body)
    except FacewatchError as exc:
        return redirect("/webhooks", exc.message, error=True)
    # Rendered, not redirected: the secret must never travel in a cookie or a URL.
    return render(request, "webhook_created.html", {"webhook": created}, 201)


@router.get("/webhooks/{webhook_id}")
def show_deliveries(
    request: Request,
    webhook_id: int,
    runtime: RuntimeDep,
    _: Administrator,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """A webhook's delivery log, newest first: status, attempts, answer, error."""
    webhook = webhooks.get_webhook(runtime, webhook_id)
    log = webhooks.list_deliveries(runtime, webhook_id, None, offset, LOG_SIZE)
    context = {"webhook": webhook, "log": log, "pager": Pager(offset, LOG_SIZE, log.total)}
    return render(request, "webhook.html", context)


@router.post("/webhooks/{webhook_id}/active")
def set_active(
    webhook_id: int,
    runtime: RuntimeDep,
    _: AdminForm,
    active: Annotated[bool, Form()] = False,
) -> Response:
    """Pause or resume deliveries to a webhook."""
    webhooks.update_webhook(runtime, webhook_id, WebhookUpdate(active=active))
    state = "resumed" if active else "paused"
    return redirect("/webhooks", f"Webhook {webhook_id} {state}.")


@router.post("/webhooks/{webhook_id}/delete")
def delete_webhook(webhook_id: int, runtime: RuntimeDep, _: AdminForm) -> Response:
    """Delete a webhook and its delivery log."""
    webhooks.delete_webhook(runtime, webhook_id)
    return redirect("/webhooks", f"Webhook {webhook_id} deleted.")
