"""Repositories: one class per resource, each working inside a Session it is given.

They flush but never commit: the unit of work (``facewatch.store.unit_of_work``) owns the
transaction.
"""

from facewatch.store.repositories.api_keys import ApiKeyRepository
from facewatch.store.repositories.audit import AuditFilter, AuditRepository
from facewatch.store.repositories.camera_health import CameraHealthRepository, HealthReport
from facewatch.store.repositories.cameras import CameraChanges, CameraRepository
from facewatch.store.repositories.common import Page
from facewatch.store.repositories.detections import DetectionRepository
from facewatch.store.repositories.events import EventFilter, EventRepository
from facewatch.store.repositories.images import ImageRepository
from facewatch.store.repositories.people import PersonChanges, PersonRepository
from facewatch.store.repositories.templates import GalleryRow, TemplateRepository
from facewatch.store.repositories.unknowns import UnknownRepository
from facewatch.store.repositories.users import (
    LoginAttemptRepository,
    UserRepository,
    UserSessionRepository,
)
from facewatch.store.repositories.webhooks import (
    DeliveryStatus,
    WebhookDeliveryRepository,
    WebhookRepository,
)
from facewatch.store.repositories.zones import ZoneRepository

__all__ = [
    "ApiKeyRepository",
    "AuditFilter",
    "AuditRepository",
    "CameraChanges",
    "CameraHealthRepository",
    "CameraRepository",
    "DeliveryStatus",
    "DetectionRepository",
    "EventFilter",
    "EventRepository",
    "GalleryRow",
    "HealthReport",
    "ImageRepository",
    "LoginAttemptRepository",
    "Page",
    "PersonChanges",
    "PersonRepository",
    "TemplateRepository",
    "UnknownRepository",
    "UserRepository",
    "UserSessionRepository",
    "WebhookDeliveryRepository",
    "WebhookRepository",
    "ZoneRepository",
]
