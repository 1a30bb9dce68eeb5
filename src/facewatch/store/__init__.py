"""Persistence: the SQL database (models, migrations, repositories) and the blob store.

- ``db.Database``: engine, sessions, schema checks and migrations (``schema``).
- ``blobs.BlobStore``: content-addressed images and crops (``FileBlobStore`` on disk).
- ``unit_of_work.UnitOfWork``: one transaction, the repositories, and blob clean-up.
- ``repositories``: one class per table group; they flush, never commit.
- ``encryption`` and ``person_keys``: sealed columns and blobs; each person's own key.
"""

from facewatch.store.blobs import BlobStore, FileBlobStore, create_blob_store
from facewatch.store.db import Database, open_database
from facewatch.store.schema import SchemaState, SchemaStatus
from facewatch.store.unit_of_work import UnitOfWork

__all__ = [
    "BlobStore",
    "Database",
    "FileBlobStore",
    "SchemaState",
    "SchemaStatus",
    "UnitOfWork",
    "create_blob_store",
    "open_database",
]
