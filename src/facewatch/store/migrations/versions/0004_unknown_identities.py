"""Unknown identities (strangers), operators' "not X" exclusions, and where a photo was taken.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Every face of nobody enrolled joins an unknown identity (``detections.unknown_id``). An
identity named as a person keeps its row, pointing to the person. ``identity_exclusions``
holds "this face (or identity) is not X" where X is a person or another identity.
``detections.latitude``/``longitude`` come from a photo's EXIF GPS tags.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create unknown_identities and identity_exclusions; add three detection columns."""
    _create_unknown_identities()
    _create_identity_exclusions()
    with op.batch_alter_table("detections") as batch:
        batch.add_column(sa.Column("unknown_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch.create_index("ix_detections_unknown_id", ["unknown_id"])
        batch.create_foreign_key(
            "fk_detections_unknown_id_unknown_identities",
            "unknown_identities",
            ["unknown_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Drop the detection columns, then the two tables."""
    with op.batch_alter_table("detections") as batch:
        batch.drop_constraint("fk_detections_unknown_id_unknown_identities", type_="foreignkey")
        batch.drop_index("ix_detections_unknown_id")
        for column in ("longitude", "latitude", "unknown_id"):
            batch.drop_column(column)
    op.drop_table("identity_exclusions")
    op.drop_table("unknown_identities")


def _create_unknown_identities() -> None:
    op.create_table(
        "unknown_identities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=False),
        sa.Column("centroid", sa.LargeBinary(), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", UTC_DATETIME, nullable=False),
        sa.Column("last_seen_at", UTC_DATETIME, nullable=False),
        sa.Column("curated", sa.Boolean(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name="fk_unknown_identities_person_id_people",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_unknown_identities"),
    )
    for column in ("last_seen_at", "model", "person_id", "updated_at"):
        op.create_index(f"ix_unknown_identities_{column}", "unknown_identities", [column])


def _create_identity_exclusions() -> None:
    op.create_table(
        "identity_exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("detection_id", sa.Integer(), nullable=True),
        sa.Column("unknown_id", sa.String(length=64), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("other_unknown_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "(detection_id IS NULL) <> (unknown_id IS NULL)",
            name="ck_identity_exclusions_one_subject",
        ),
        sa.CheckConstraint(
            "(person_id IS NULL) <> (other_unknown_id IS NULL)",
            name="ck_identity_exclusions_one_object",
        ),
        sa.ForeignKeyConstraint(
            ["detection_id"],
            ["detections.id"],
            name="fk_identity_exclusions_detection_id_detections",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unknown_id"],
            ["unknown_identities.id"],
            name="fk_identity_exclusions_unknown_id_unknown_identities",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name="fk_identity_exclusions_person_id_people",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_unknown_id"],
            ["unknown_identities.id"],
            name="fk_identity_exclusions_other_unknown_id_unknown_identities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_identity_exclusions"),
    )
    for column in ("detection_id", "unknown_id", "person_id", "other_unknown_id"):
        op.create_index(f"ix_identity_exclusions_{column}", "identity_exclusions", [column])
