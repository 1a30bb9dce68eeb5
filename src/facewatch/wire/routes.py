"""The ingest routes an edge agent calls, and the headers on every request it makes."""

from __future__ import annotations

DETECTIONS_PATH = "/api/v1/detections"
"""One crop or frame (multipart: ``image`` and the form fields of ``fields.py``)."""
EMBEDDINGS_PATH = "/api/v1/edge/embeddings"
"""One embedding made on site (multipart: ``embedding``, optional ``thumbnail``)."""
BATCH_PATH = "/api/v1/edge/batch"
"""Many items in one request (``batch.BatchManifest``)."""
RECOGNIZE_PATH = "/api/v1/recognize"
GALLERY_PATH = "/api/v1/edge/gallery"
EDGE_ID_HEADER = "X-Facewatch-Edge-Id"
OUTBOX_DEPTH_HEADER = "X-Facewatch-Outbox-Depth"
"""Sent on every request: the server's /metrics shows each agent's outbox depth from them
(``facewatch_edge_outbox_depth{edge=...}``)."""
