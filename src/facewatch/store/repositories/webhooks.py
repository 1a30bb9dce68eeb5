"""Webhooks (URLs that receive events) and the log of their deliveries."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facewatch.errors import InvalidInput, NotFound
from facewatch.store.models import Webhook, WebhookDelivery, utcnow
from facewatch.store.repositories.common import Page, check_text, fetch_page


class DeliveryStatus(StrEnum):
    """Where the delivery of one event to one webhook stands."""

    PENDING = "pending"
    """Not delivered yet; another attempt is due at ``next_attempt_at``."""
    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    FAILED = "failed"
    """Given up: attempts exhausted, a permanent refusal, or the server stopped first."""


class WebhookRepository:
    """Reads and writes the ``webhooks`` table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        url: str,
        event_types: Sequence[str],
        secret: str,
        description: str = "",
        active: bool = True,
    ) -> Webhook:
        """Register a webhook."""
        webhook = Webhook(
            url=_check_url(url),
            event_types=_check_types(event_types),
            secret=check_text(Webhook.secret, secret),
            description=check_text(Webhook.description, description),
            active=active,
        )
        self._session.add(webhook)
        self._session.flush()
        return webhook

    def get(self, webhook_id: int) -> Webhook:
        """The webhook with this id; ``NotFound`` if there is none."""
        webhook = self._session.get(Webhook, webhook_id)
        if webhook is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return webhook

    def list(self, offset: int = 0, limit: int = 100) -> Page[Webhook]:
        """Webhooks by id."""
        return fetch_page(self._session, select(Webhook).order_by(Webhook.id), offset, limit)

    def update(
        self,
        webhook: Webhook,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        active: bool | None = None,
    ) -> Webhook:
        """Change the fields given (``None`` leaves a field as it is)."""
        if url is not None:
            webhook.url = _check_url(url)
        if event_types is not None:
            webhook.event_types = _check_types(event_types)
        if description is not None:
            webhook.description = check_text(Webhook.description, description)
        if active is not None:
            webhook.active = active
        self._session.flush()
        return webhook

    def delete(self, webhook: Webhook) -> None:
        """Forget ``webhook`` and its delivery log (ON DELETE CASCADE)."""
        self._session.delete(webhook)
        self._session.flush()

    def active_for(self, event_type: str) -> builtins.list[Webhook]:
        """The active webhooks that want events of ``event_type``."""
        # Few rows: filtering the JSON list here keeps one query for both databases.
        active = self._session.scalars(select(Webhook).where(Webhook.active.is_(True)))
        return [hook for hook in active if event_type in hook.event_types]


class WebhookDeliveryRepository:
    """Reads and writes the ``webhook_deliveries`` table (the delivery log)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, webhook_id: int, event_id: str, event_type: str) -> WebhookDelivery:
        """Open the log entry of one event's delivery to one webhook (pending, no attempt)."""
        delivery = WebhookDelivery(
            webhook_id=webhook_id,
            event_id=event_id,
            event_type=event_type,
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=utcnow(),
        )
        self._session.add(delivery)
        self._session.flush()
        return delivery

    def get(self, delivery_id: int) -> WebhookDelivery:
        """The delivery with this id; ``NotFound`` if there is none."""
        delivery = self._session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            raise NotFound(f"webhook delivery {delivery_id} not found")
        return delivery

    def record_attempt(
        self,
        delivery: WebhookDelivery,
        status: DeliveryStatus,
        *,
        response_status: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> WebhookDelivery:
        """Count one more attempt and how it went."""
        now = utcnow()
        delivery.attempts += 1
        delivery.status = status.value
        delivery.response_status = response_status
        delivery.error = None if error is None else error[:500]
        delivery.last_attempt_at = now
        delivery.next_attempt_at = next_attempt_at
        if status is DeliveryStatus.DELIVERED:
            delivery.delivered_at = now
        self._session.flush()
        return delivery

    def give_up(self, delivery_ids: Sequence[int], reason: str) -> int:
        """Mark the still-pending deliveries among ``delivery_ids`` failed; how many were."""
        if not delivery_ids:
            return 0
        statement = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(delivery_ids))
            .where(WebhookDelivery.status == DeliveryStatus.PENDING.value)
            .values(status=DeliveryStatus.FAILED.value, error=reason[:500], next_attempt_at=None)
        )
        count = self._session.execute(statement).rowcount  # type: ignore[attr-defined]
        self._session.flush()
        return int(count or 0)

    def list_for(
        self,
        webhook_id: int,
        status: DeliveryStatus | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[WebhookDelivery]:
        """The delivery log of ``webhook_id``, newest first."""
        statement = (
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        )
        if status is not None:
            statement = statement.where(WebhookDelivery.status == status.value)
        return fetch_page(self._session, statement, offset, limit)


def _check_url(url: str) -> str:
    check_text(Webhook.url, url)
    if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise InvalidInput("webhook url must be an http:// or https:// URL without spaces")
    return url


def _check_types(event_types: Sequence[str]) -> list[str]:
    types = sorted(set(event_types))
    if not types:
        raise InvalidInput("a webhook needs at least one event type")
    return types
