"""Webhooks: URLs that receive signed events, and their delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from facewatch.server.deps import AdminKey, StorageDep
from facewatch.server.events.schemas import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import Page
from facewatch.server.services import webhooks
from facewatch.store.repositories import DeliveryStatus

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated, responses=ERRORS
)
def create_webhook(body: WebhookCreate, storage: StorageDep, _: AdminKey) -> WebhookCreated:
    """Register a URL for some event types; the answer shows its signing secret once."""
    return webhooks.create_webhook(storage, body)


@router.get("", response_model=Page[WebhookOut], responses=ERRORS)
def list_webhooks(
    storage: StorageDep,
    _: AdminKey,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[WebhookOut]:
    """List webhooks (without their secrets)."""
    return webhooks.list_webhooks(storage, offset, limit)


@router.get("/{webhook_id}", response_model=WebhookOut, responses=ERRORS)
def get_webhook(webhook_id: int, storage: StorageDep, _: AdminKey) -> WebhookOut:
    """Read one webhook."""
    return webhooks.get_webhook(storage, webhook_id)


@router.patch("/{webhook_id}", response_model=WebhookOut, responses=ERRORS)
def update_webhook(
    webhook_id: int, body: WebhookUpdate, storage: StorageDep, _: AdminKey
) -> WebhookOut:
    """Change a webhook's URL, event types, description, or pause it (active: false)."""
    return webhooks.update_webhook(storage, webhook_id, body)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_webhook(webhook_id: int, storage: StorageDep, _: AdminKey) -> Response:
    """Delete a webhook and its delivery log."""
    webhooks.delete_webhook(storage, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut], responses=ERRORS)
def list_deliveries(
    webhook_id: int,
    storage: StorageDep,
    _: AdminKey,
    status: DeliveryStatus | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[DeliveryOut]:
    """The delivery log: each event sent, its attempts, and how the last one went."""
    return webhooks.list_deliveries(storage, webhook_id, status, offset, limit)
