"""Person keys: each person's name, notes, embeddings and event names sealed under their key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-11

Erasure by crypto-shredding (docs/security.md). ``install_key`` holds a random master key
made here, which seals and names what a configured ``encryption_key`` would when there is
none. ``person_keys`` holds one random key per person, wrapped by the install key. Existing
rows are converted: names and notes become person envelopes (``people.name_key`` is the
keyed hash that keeps names unique), and so do the names in events and the embeddings of
templates and recognised detections that were stored in clear. Embeddings already sealed
with a configured ``encryption_key`` are moved under person keys by
``facewatch admin rotate-key`` (this migration does not know that key).

The downgrade opens every person envelope with the stored keys and puts the clear text
back (it refuses if a configured key sealed the person keys: none is, here).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from facewatch.security.crypto import (
    DataKey,
    Keyring,
    PersonKey,
    is_encrypted,
    person_key_id,
)

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)
BATCH = 500

people = sa.table(
    "people",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("notes", sa.Text),
    sa.column("name_key", sa.String),
    sa.column("sealed_name", sa.LargeBinary),
    sa.column("sealed_notes", sa.LargeBinary),
)
person_keys = sa.table(
    "person_keys",
    sa.column("id", sa.LargeBinary),
    sa.column("person_id", sa.Integer),
    sa.column("key", sa.LargeBinary),
)
install_key = sa.table(
    "install_key",
    sa.column("id", sa.Integer),
    sa.column("key", sa.LargeBinary),
    sa.column("created_at", UTC_DATETIME),
)
events = sa.table(
    "events",
    sa.column("id", sa.String),
    sa.column("person_id", sa.Integer),
    sa.column("person_name", sa.String),
    sa.column("sealed_person_name", sa.LargeBinary),
)
templates = sa.table(
    "templates",
    sa.column("id", sa.Integer),
    sa.column("person_id", sa.Integer),
    sa.column("embedding", sa.LargeBinary),
)
detections = sa.table(
    "detections",
    sa.column("id", sa.Integer),
    sa.column("person_id", sa.Integer),
    sa.column("embedding", sa.LargeBinary),
)


def upgrade() -> None:
    """Create the key tables, seal every person's data, swap the clear columns out."""
    keyring = _create_install_key()
    op.create_table(
        "person_keys",
        sa.Column("id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_person_keys_person_id_people", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_person_keys"),
        sa.UniqueConstraint("person_id", name="uq_person_keys_person_id"),
    )
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("name_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("sealed_name", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("sealed_notes", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("sealed_person_name", sa.LargeBinary(), nullable=True))
    keys = _seal_people(keyring)
    _seal_event_names(keys, keyring)
    _seal_embeddings(templates, "templates.embedding", keys)
    _seal_embeddings(detections, "detections.embedding", keys)
    with op.batch_alter_table("people") as batch:
        batch.drop_constraint("uq_people_name", type_="unique")
        batch.drop_column("name")
        batch.drop_column("notes")
        batch.alter_column("sealed_name", new_column_name="name", nullable=False)
        batch.alter_column("sealed_notes", new_column_name="notes", nullable=False)
        batch.alter_column("name_key", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_people_name_key", ["name_key"])
    with op.batch_alter_table("events") as batch:
        batch.drop_column("person_name")
        batch.alter_column("sealed_person_name", new_column_name="person_name")


def _create_install_key() -> Keyring:
    op.create_table(
        "install_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_install_key"),
    )
    master = os.urandom(32)
    op.execute(install_key.insert().values(id=1, key=master, created_at=sa.func.now()))
    return Keyring(DataKey.from_master(master))


def _seal_people(keyring: Keyring) -> dict[int, PersonKey]:
    connection = op.get_bind()
    keys: dict[int, PersonKey] = {}
    rows = connection.execute(sa.select(people.c.id, people.c.name, people.c.notes)).all()
    for person_id, name, notes in rows:
        key = keys[person_id] = PersonKey.new()
        connection.execute(
            person_keys.insert().values(
                id=key.key_id,
                person_id=person_id,
                key=keyring.seal(key.secret, "person_keys.key"),
            )
        )
        connection.execute(
            people.update()
            .where(people.c.id == person_id)
            .values(
                name_key=keyring.name_token(name),
                sealed_name=key.seal(name.encode(), "people.name"),
                sealed_notes=key.seal((notes or "").encode(), "people.notes"),
            )
        )
    return keys


def _seal_event_names(keys: dict[int, PersonKey], keyring: Keyring) -> None:
    connection = op.get_bind()
    named = sa.select(events.c.id, events.c.person_id, events.c.person_name).where(
        events.c.person_name.is_not(None)
    )
    for event_id, person_id, name in connection.execute(named).all():
        key = keys.get(person_id)
        sealed = (
            keyring.seal(name.encode(), "events.person_name")
            if key is None
            else key.seal(name.encode(), "events.person_name")
        )
        connection.execute(
            events.update().where(events.c.id == event_id).values(sealed_person_name=sealed)
        )


def _seal_embeddings(table: sa.TableClause, purpose: str, keys: dict[int, PersonKey]) -> None:
    """Seal the clear embeddings of people's rows under their keys, in batches."""
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c.person_id, table.c.embedding)
            .where(table.c.id > last, table.c.person_id.is_not(None))
            .where(table.c.embedding.is_not(None))
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        for row_id, person_id, data in rows:
            data = bytes(data)
            if is_encrypted(data) or person_key_id(data) is not None or person_id not in keys:
                continue
            connection.execute(
                table.update()
                .where(table.c.id == row_id)
                .values(embedding=keys[person_id].seal(data, purpose))
            )
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


Opener = Callable[[bytes, str], bytes]


def downgrade() -> None:
    """Open every person envelope and put the clear columns back."""
    connection = op.get_bind()
    master: bytes = connection.execute(
        sa.select(install_key.c.key).where(install_key.c.id == 1)
    ).scalar_one()
    keyring = Keyring(DataKey.from_master(bytes(master)))
    keys = {
        bytes(key_id): PersonKey.from_parts(
            bytes(key_id), keyring.open(bytes(wrapped), "person_keys.key")
        )
        for key_id, wrapped in connection.execute(sa.select(person_keys.c.id, person_keys.c.key))
    }

    def opened(data: bytes, purpose: str) -> bytes:
        key_id = person_key_id(bytes(data))
        if key_id is None:
            return keyring.open(bytes(data), purpose)
        return keys[key_id].open(bytes(data), purpose)

    _downgrade_text(
        "people", ("name", "notes"), (sa.String(length=200), sa.Text()), opened, "people"
    )
    with op.batch_alter_table("people") as batch:
        batch.drop_constraint("uq_people_name_key", type_="unique")
        batch.drop_column("name_key")
        batch.alter_column("name", existing_type=sa.String(length=200), nullable=False)
        batch.alter_column("notes", existing_type=sa.Text(), nullable=False)
        batch.create_unique_constraint("uq_people_name", ["name"])
    _downgrade_text("events", ("person_name",), (sa.String(length=200),), opened, "events")
    for table, purpose in (
        (templates, "templates.embedding"),
        (detections, "detections.embedding"),
    ):
        rows = connection.execute(sa.select(table.c.id, table.c.embedding)).all()
        for row_id, data in rows:
            if data is not None and person_key_id(bytes(data)) is not None:
                clear = opened(bytes(data), purpose)
                connection.execute(
                    table.update().where(table.c.id == row_id).values(embedding=clear)
                )
    op.drop_table("person_keys")
    op.drop_table("install_key")


def _downgrade_text(
    name: str,
    columns: tuple[str, ...],
    types: tuple[sa.types.TypeEngine[str], ...],
    opened: Opener,
    purpose_table: str,
) -> None:
    """Replace the sealed ``columns`` of table ``name`` with clear ones of ``types``."""
    connection = op.get_bind()
    with op.batch_alter_table(name) as batch:
        for column, type_ in zip(columns, types, strict=True):
            batch.add_column(sa.Column(f"clear_{column}", type_, nullable=True))
    table = sa.table(
        name,
        sa.column("id"),
        *(sa.column(c, sa.LargeBinary) for c in columns),
        *(sa.column(f"clear_{c}", sa.Text) for c in columns),
    )
    for row in connection.execute(sa.select(table.c.id, *(table.c[c] for c in columns))).all():
        values = {
            f"clear_{c}": opened(bytes(v), f"{purpose_table}.{c}").decode()
            for c, v in zip(columns, row[1:], strict=True)
            if v is not None
        }
        if values:
            connection.execute(table.update().where(table.c.id == row[0]).values(**values))
    with op.batch_alter_table(name) as batch:
        for column in columns:
            batch.drop_column(column)
            batch.alter_column(f"clear_{column}", new_column_name=column)
