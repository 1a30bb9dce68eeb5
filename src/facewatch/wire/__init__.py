"""What passes between an edge agent and the server: one contract that both sides import.

No I/O here, and nothing of ``edge``, ``server`` or ``store`` (an import-linter contract
keeps it so): the agent builds its requests from these types, the server parses them with
the same types.

    routes       the ingest routes and the headers every agent request carries
    fields       camera ids, idempotency keys, model ids, the form fields of one item
    boxes        a ``Box`` as "left,top,right,bottom" in a form field or four integers in JSON
    vectors      media types of payloads, embedding encodings (float32, float16, int8 unit)
    batch        the batch manifest and its items; the per-item results the server answers

The format is that of Facewatch 0.1 (no version field yet): an agent of the previous
version sends exactly these bytes and is accepted. A change that is not backward compatible
must add a version to the manifest and be described in docs/edge.md.
"""

from facewatch.wire.batch import (
    MAX_BATCH_ITEMS,
    MAX_MANIFEST_BYTES,
    BatchItem,
    BatchManifest,
    FaceResult,
    ItemKind,
    ItemOutcome,
    face_results,
    results_by_key,
)
from facewatch.wire.boxes import MAX_COORDINATE, decode_box, encode_box
from facewatch.wire.fields import (
    CAMERA_ID_PATTERN,
    KEY_PATTERN,
    CameraId,
    IdempotencyKey,
    ModelId,
)
from facewatch.wire.routes import (
    BATCH_PATH,
    DETECTIONS_PATH,
    EDGE_ID_HEADER,
    EMBEDDINGS_PATH,
    GALLERY_PATH,
    OUTBOX_DEPTH_HEADER,
    RECOGNIZE_PATH,
)
from facewatch.wire.vectors import (
    INT8_SCALE,
    MAX_EMBEDDING_VALUE,
    MediaType,
    VectorType,
    decode_vector,
    dtype_of_media_type,
    encode_vector,
    image_media_type,
    quantise_unit,
    vector_width,
)

__all__ = [
    "BATCH_PATH",
    "CAMERA_ID_PATTERN",
    "DETECTIONS_PATH",
    "EDGE_ID_HEADER",
    "EMBEDDINGS_PATH",
    "GALLERY_PATH",
    "INT8_SCALE",
    "KEY_PATTERN",
    "MAX_BATCH_ITEMS",
    "MAX_COORDINATE",
    "MAX_EMBEDDING_VALUE",
    "MAX_MANIFEST_BYTES",
    "OUTBOX_DEPTH_HEADER",
    "RECOGNIZE_PATH",
    "BatchItem",
    "BatchManifest",
    "CameraId",
    "FaceResult",
    "IdempotencyKey",
    "ItemKind",
    "ItemOutcome",
    "MediaType",
    "ModelId",
    "VectorType",
    "decode_box",
    "decode_vector",
    "dtype_of_media_type",
    "encode_box",
    "encode_vector",
    "face_results",
    "image_media_type",
    "quantise_unit",
    "results_by_key",
    "vector_width",
]
