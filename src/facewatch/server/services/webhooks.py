"""Webhooks and their delivery log (shared by the API and the dashboard)."""

from __future__ import annotations

import logging

from facewatch.server.events.schemas import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)
from facewatch.server.events.signing import new_secret
from facewatch.server.infra.runtime import Storage
from facewatch.server.schemas import Page
from facewatch.store.repositories import DeliveryStatus

logger = logging.getLogger(__name__)


def create_webhook(storage: Storage, body: WebhookCreate) -> WebhookCreated:
    """Register a webhook; the answer holds its signing secret, the only time it is shown."""
    secret = body.secret or new_secret()
    with storage.uow() as uow:
        webhook = uow.webhooks.add(
            body.url, [t.value for t in body.event_types], secret, body.description, body.active
        )
        uow.commit()
        logger.info("webhook %s registered for %s", webhook.id, ", ".join(webhook.event_types))
        return WebhookCreated.model_validate(webhook)


def list_webhooks(storage: Storage, offset: int, limit: int) -> Page[WebhookOut]:
    """Webhooks by id (without their secrets)."""
    with storage.uow() as uow:
        hooks, total = uow.webhooks.list(offset, limit)
        items = [WebhookOut.model_validate(hook) for hook in hooks]
    return Page[WebhookOut](items=items, total=total, offset=offset, limit=limit)


def get_webhook(storage: Storage, webhook_id: int) -> WebhookOut:
    """One webhook; ``NotFound`` if there is none."""
    with storage.uow() as uow:
        return WebhookOut.model_validate(uow.webhooks.get(webhook_id))


def update_webhook(storage: Storage, webhook_id: int, body: WebhookUpdate) -> WebhookOut:
    """Change a webhook's URL, event types, description or whether it is active."""
    with storage.uow() as uow:
        webhook = uow.webhooks.get(webhook_id)
        uow.webhooks.update(
            webhook,
            url=body.url,
            event_types=None if body.event_types is None else [t.value for t in body.event_types],
            description=body.description,
            active=body.active,
        )
        uow.commit()
        return WebhookOut.model_validate(webhook)


def delete_webhook(storage: Storage, webhook_id: int) -> None:
    """Delete a webhook and its delivery log."""
    with storage.uow() as uow:
        uow.webhooks.delete(uow.webhooks.get(webhook_id))
        uow.commit()
        logger.info("webhook %s deleted", webhook_id)


def list_deliveries(
    storage: Storage,
    webhook_id: int,
    status: DeliveryStatus | None,
    offset: int,
    limit: int,
) -> Page[DeliveryOut]:
    """The delivery log of a webhook, newest first; ``NotFound`` for no such webhook."""
    with storage.uow() as uow:
        uow.webhooks.get(webhook_id)
        rows, total = uow.webhook_deliveries.list_for(webhook_id, status, offset, limit)
        items = [DeliveryOut.model_validate(row) for row in rows]
    return Page[DeliveryOut](items=items, total=total, offset=offset, limit=limit)
