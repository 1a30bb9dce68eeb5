"""The fingerprint of the request that stored a detection, to refuse a reused idempotency key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24

``detections.request_sha256`` holds the SHA-256 of what the client sent with its idempotency
key (image or embedding, camera, capture time, box...). A key sent again with the same
content is a retry and gets the first answer; with other content it is refused (409,
``idempotency_key_reused``). Rows stored before this revision have none and replay as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add detections.request_sha256 (nullable: older rows have no fingerprint)."""
    op.add_column("detections", sa.Column("request_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop detections.request_sha256."""
    with op.batch_alter_table("detections") as batch:
        batch.drop_column("request_sha256")
