"""SQLAlchemy 2 ORM models: the tables of DESIGN.md's first cut.

Every timestamp is stored in UTC. Embeddings are stored as raw little-endian float32 bytes
together with the id of the model that made them, so that a change of embedder can re-embed
from the kept enrolment images. With an encryption key configured those bytes are stored
sealed (AES-GCM, ``EncryptedBytes`` in ``facewatch.store.encryption``).

What identifies an enrolled person (name, notes, their templates' and detections'
embeddings, their name in events) is sealed under that person's own key (``PersonKeyRecord``,
``facewatch.store.person_keys``): erasing the person destroys the key (docs/security.md).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from facewatch.store.encryption import EncryptedBytes, PersonSealed, PersonSealedText

# Stable constraint names so that Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Facewatch stores UTC-aware timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite drops the zone; everything stored is UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


NAME_MAX_CHARS = 200


class Person(Base):
    """Someone enrolled: authorised, staff, on a watchlist...

    ``name`` and ``notes`` are sealed under the person's key; ``name_key`` is a keyed hash
    of the name (``Keyring.name_token``) that keeps names unique without storing them.
    """

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(PersonSealedText("people.name", person_only=True))
    name_key: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(40), default="authorized")
    notes: Mapped[str] = mapped_column(PersonSealedText("people.notes", person_only=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    templates: Mapped[list[Template]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )


class PersonKeyRecord(Base):
    """One person's data key, wrapped by the keyring; deleted (and purged) on erasure."""

    __tablename__ = "person_keys"

    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    """The key's random id, as person envelopes name it."""
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    key: Mapped[bytes] = mapped_column(EncryptedBytes("person_keys.key"))


class InstallKey(Base):
    """The install's own master key, made by the migration that added person keys.

    It seals and names what ``encryption_key`` would when none is configured, so that
    erasure is real without any operator step (docs/security.md).
    """

    __tablename__ = "install_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Image(Base):
    """A stored image (enrolment photo or face crop): its blob key is a keyed hash of it
    (``Keyring.blob_name``; the plain sha256 only for images stored before any key)."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Template(Base):
    """One enrolled face of a person: the embedding and where it came from."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    embedding: Mapped[bytes] = mapped_column(PersonSealed("templates.embedding"))
    model: Mapped[str] = mapped_column(String(80), index=True)
    quality: Mapped[float] = mapped_column(Float)
    box: Mapped[list[int]] = mapped_column(JSON)
    image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="templates")
    image: Mapped[Image | None] = relationship()


class Camera(Base):
    """A camera (or any image source) and where it stands."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    site: Mapped[str] = mapped_column(String(200), default="")
    zone: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Detection(Base):
    """One face seen by a camera at a time, and who it was (or that it was nobody enrolled)."""

    __tablename__ = "detections"
    __table_args__ = (
        UniqueConstraint("idempotency_key", "face_index", name="uq_detections_idempotency"),
        Index("ix_detections_camera_time", "camera_id", "captured_at"),
        Index("ix_detections_person_time", "person_id", "captured_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    camera_id: Mapped[str | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    distance: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    box: Mapped[list[int]] = mapped_column(JSON)
    landmarks: Mapped[list[list[float]] | None] = mapped_column(JSON)
    quality: Mapped[float] = mapped_column(Float)
    candidates: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    embedding: Mapped[bytes | None] = mapped_column(PersonSealed("detections.embedding"))
    model: Mapped[str | None] = mapped_column(String(80))
    crop_image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL"), index=True
    )
    track_id: Mapped[str | None] = mapped_column(String(128))
    edge_id: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    face_index: Mapped[int] = mapped_column(Integer, default=0)
    """Position of the face within its ingested image (a frame can hold several faces)."""
    request_sha256: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the request stored under ``idempotency_key``: a reuse with other content
    is refused (services/idempotency.py)."""
    unknown_id: Mapped[str | None] = mapped_column(
        ForeignKey("unknown_identities.id", ondelete="SET NULL"), index=True
    )
    """The unknown identity (stranger) this face joined; see ``UnknownIdentity``."""
    latitude: Mapped[float | None] = mapped_column(Float)
    """Where the photo was taken, from its EXIF GPS tags (else the camera's location)."""
    longitude: Mapped[float | None] = mapped_column(Float)

    person: Mapped[Person | None] = relationship()
    camera: Mapped[Camera | None] = relationship()
    crop_image: Mapped[Image | None] = relationship()


class ApiKey(Base):
    """An API key: only a SHA-256 of the secret is kept; ``prefix`` finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """After this the key is refused (None: never); a rotation sets it on the old key."""
    rotated_from_id: Mapped[int | None] = mapped_column(Integer)
    """The key this one replaced (``facewatch keys rotate``), for the record."""


class User(Base):
    """Someone who logs in to the dashboard, with one role: admin, operator or viewer."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    """An argon2id hash in PHC string format (algorithm and parameters included)."""
    role: Mapped[str] = mapped_column(String(16))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    """Consecutive failed logins since the last success; a lockout starts at a threshold."""
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class UserSession(Base):
    """A dashboard login: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    """The synchronizer token every form of this session must send back."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """One login try, kept for a while: rate limits per address count them across replicas."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_address_time", "address", "attempted_at"),
        Index("ix_login_attempts_username_time", "username", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class Zone(Base):
    """A group of cameras; a restricted zone admits only the people and categories it lists.

    A camera belongs to the zone whose id is in its ``zone`` column.
    """

    __tablename__ = "zones"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    restricted: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    authorizations: Mapped[list[ZoneAuthorization]] = relationship(
        back_populates="zone", cascade="all, delete-orphan", passive_deletes=True
    )


class ZoneAuthorization(Base):
    """One person, or one category of people, allowed in a zone."""

    __tablename__ = "zone_authorizations"
    __table_args__ = (
        UniqueConstraint("zone_id", "person_id", name="uq_zone_authorizations_person"),
        UniqueConstraint("zone_id", "category", name="uq_zone_authorizations_category"),
        CheckConstraint("(person_id IS NULL) <> (category IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str | None] = mapped_column(String(40))

    zone: Mapped[Zone] = relationship(back_populates="authorizations")


class EventRecord(Base):
    """A stored event (the wire contract is ``facewatch.server.events.types.Event``).

    Person name and category are kept as they were when the event was raised: an alert
    stays what it was even if the person is renamed or moved off the watchlist later. The
    name is sealed under the person's key.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_camera_time", "camera_id", "occurred_at"),
        Index("ix_events_person_time", "person_id", "occurred_at"),
        Index("ix_events_zone_time", "zone_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    camera_id: Mapped[str | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"))
    zone_id: Mapped[str | None] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    person_name: Mapped[str | None] = mapped_column(PersonSealedText("events.person_name"))
    category: Mapped[str | None] = mapped_column(String(40))
    unknown_id: Mapped[str | None] = mapped_column(String(64))
    detection_id: Mapped[int | None] = mapped_column(
        ForeignKey("detections.id", ondelete="SET NULL"), index=True
    )
    distance: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    crop_url: Mapped[str | None] = mapped_column(String(600))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))


class Webhook(Base):
    """A URL that receives events of some types, signed with its own secret.

    The secret is kept in clear: signing needs it (it is shown once, at creation).
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """The delivery of one event to one webhook: its attempts and how the last one went."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook_time", "webhook_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UnknownIdentity(Base):
    """A stranger: the faces of nobody enrolled that look alike share one (``unknown-<hex>``).

    ``centroid`` is the running mean of its faces' embeddings (float32 bytes, made by
    ``model``); new faces join the nearest centroid within a threshold. Once named it keeps
    its row (``person_id``) so that old events and detections still say who it became.
    """

    __tablename__ = "unknown_identities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(80), index=True)
    centroid: Mapped[bytes] = mapped_column(EncryptedBytes("unknown_identities.centroid"))
    faces: Mapped[int] = mapped_column(Integer, default=0)
    """Faces averaged into the centroid (the detections count is counted, not kept)."""
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    curated: Mapped[bool] = mapped_column(Boolean, default=False)
    """Merged or split by an operator: re-clustering leaves its faces where they are."""
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    """The person it was named as (it then takes no new faces)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )


class IdentityExclusion(Base):
    """An operator's "not X": a face or an unknown identity that must never match X again.

    The subject is a detection or an unknown identity; X is a person or another unknown
    identity (exactly one of each pair is set).
    """

    __tablename__ = "identity_exclusions"
    __table_args__ = (
        CheckConstraint("(detection_id IS NULL) <> (unknown_id IS NULL)", name="one_subject"),
        CheckConstraint("(person_id IS NULL) <> (other_unknown_id IS NULL)", name="one_object"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    detection_id: Mapped[int | None] = mapped_column(
        ForeignKey("detections.id", ondelete="CASCADE"), index=True
    )
    unknown_id: Mapped[str | None] = mapped_column(
        ForeignKey("unknown_identities.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    other_unknown_id: Mapped[str | None] = mapped_column(
        ForeignKey("unknown_identities.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """One line of the audit trail: who did what to which record, from where, and when.

    Append-only: the migration adds triggers that refuse UPDATE and DELETE. ``target`` and
    ``details`` name records by id and list changed field names and counts, never a
    person's name, an image or an embedding, so that erasing a person leaves no trace here.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_time", "action", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    """``key:<prefix>``, ``user:<username>``, ``cli:<os user>`` or ``system``."""
    address: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64))
    """What happened, as ``<kind>.<verb>``: ``person.deleted``, ``user.login``..."""
    target: Mapped[str] = mapped_column(String(200), default="")
    """What it happened to, as ``<kind>:<id>``."""
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    """``ok``, ``denied`` (refused by a check) or ``failed``."""
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class ModelState(Base):
    """One fact about the embedding models of this install (``serving_model``, a re-embed's
    progress), shared by every replica through the database."""

    __tablename__ = "model_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, object]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PendingEmbedding(Base):
    """A detection's face embedded by a model that does not serve yet (a re-embed under way);
    moved into ``detections`` when that model starts serving."""

    __tablename__ = "pending_embeddings"

    detection_id: Mapped[int] = mapped_column(
        ForeignKey("detections.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(80), primary_key=True)
    embedding: Mapped[bytes] = mapped_column(PersonSealed("detections.embedding"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CameraHealth(Base):
    """The latest health report of the edge agent feeding a camera, and its latest snapshot.

    One row per camera, replaced by each heartbeat; ``stale`` is set by the scheduled check
    once the agent has been quiet too long, and cleared by its next heartbeat.
    """

    __tablename__ = "camera_health"

    camera_id: Mapped[str] = mapped_column(
        ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    edge_id: Mapped[str] = mapped_column(String(64))
    agent_version: Mapped[str] = mapped_column(String(40))
    detector: Mapped[str] = mapped_column(String(80))
    embedder: Mapped[str | None] = mapped_column(String(80))
    fps_in: Mapped[float] = mapped_column(Float)
    fps_processed: Mapped[float] = mapped_column(Float)
    frames_dropped: Mapped[int] = mapped_column(Integer)
    detections_per_minute: Mapped[float] = mapped_column(Float)
    outbox_depth: Mapped[int] = mapped_column(Integer)
    outbox_oldest_seconds: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    interval_seconds: Mapped[float] = mapped_column(Float)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    """When the server received the last heartbeat (the server's clock)."""
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot_image_id: Mapped[int | None] = mapped_column(
        ForeignKey("images.id", ondelete="SET NULL")
    )
    snapshot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
