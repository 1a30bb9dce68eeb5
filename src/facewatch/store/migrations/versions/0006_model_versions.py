"""Model-versioned galleries: which embedder serves, and re-embedded faces awaiting the switch.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

``model_state`` holds one row per key; ``serving_model`` names the embedding model whose
templates answer (every replica reads it). While a new embedder re-embeds the stored
face crops of detections, their new vectors wait in ``pending_embeddings``; the switch
moves them into ``detections`` in the same transaction that changes ``serving_model``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create model_state and pending_embeddings."""
    op.create_table(
        "model_state",
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "pending_embeddings",
        sa.Column(
            "detection_id",
            sa.Integer(),
            sa.ForeignKey("detections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("model", sa.String(length=80), primary_key=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("pending_embeddings")
    op.drop_table("model_state")
