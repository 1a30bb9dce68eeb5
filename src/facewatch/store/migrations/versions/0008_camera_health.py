"""The latest edge-agent health report and snapshot of each camera.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10

``camera_health`` holds one row per camera: what its agent reported with its last heartbeat
(frame rates, dropped frames, detections per minute, outbox depth and age, last error,
version and models), when the server received it, whether the scheduled check found the
agent quiet for too long (``stale``), and the image row of the camera's latest snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create camera_health."""
    op.create_table(
        "camera_health",
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("agent_version", sa.String(length=40), nullable=False),
        sa.Column("detector", sa.String(length=80), nullable=False),
        sa.Column("embedder", sa.String(length=80), nullable=True),
        sa.Column("fps_in", sa.Float(), nullable=False),
        sa.Column("fps_processed", sa.Float(), nullable=False),
        sa.Column("frames_dropped", sa.Integer(), nullable=False),
        sa.Column("detections_per_minute", sa.Float(), nullable=False),
        sa.Column("outbox_depth", sa.Integer(), nullable=False),
        sa.Column("outbox_oldest_seconds", sa.Float(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_error_at", UTC_DATETIME, nullable=True),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.Column("reported_at", UTC_DATETIME, nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("snapshot_image_id", sa.Integer(), nullable=True),
        sa.Column("snapshot_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name="fk_camera_health_camera_id_cameras",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_image_id"],
            ["images.id"],
            name="fk_camera_health_snapshot_image_id_images",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("camera_id", name="pk_camera_health"),
    )
    op.create_index("ix_camera_health_reported_at", "camera_health", ["reported_at"])


def downgrade() -> None:
    """Drop camera_health."""
    op.drop_index("ix_camera_health_reported_at", table_name="camera_health")
    op.drop_table("camera_health")
