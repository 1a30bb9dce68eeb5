"""Every embedding model Facewatch can make, and the recognition defaults calibrated for each.

The numbers of ``RecognitionDefaults`` are the settings used when ``match_threshold`` and
its siblings are left unset: they belong to one model and are never reused for another.
All are Euclidean distances between the model's vectors (see ``ModelSpec``).
"""

from __future__ import annotations

from facewatch.vision.embedders.base import ModelSpec, RecognitionDefaults

DLIB_RESNET_V1 = ModelSpec(
    model_id="dlib_resnet_v1",
    dim=128,
    metric="l2",
    chip_size=150,
    preprocessing="dlib get_face_chip of the 5 landmarks (150 x 150, padding 0.25); RGB uint8",
    # The settings' defaults before models declared their own (benchmarks/results.md).
    defaults=RecognitionDefaults(
        match_threshold=0.5,
        unknown_threshold=0.6,
        margin_weight=1.0,
        margin_cap=0.1,
        cluster_threshold=0.45,
    ),
)
"""dlib's ResNet-34 face descriptor, whichever runtime (dlib or onnxruntime) runs it."""

# Calibrated on LFW DevTrain (protocol A: 628 people enrolled with one photo, 1,258 known
# probes, 1,258 strangers) by benchmarks/bench_calibrate.py (benchmarks/results.md):
# match 1.09 (cosine 0.41) names 0.40% of strangers and 95.1% of known probes right (the
# threshold naming 1% would be 1.12: a safety share kept off it); 5% of strangers score
# under unknown 1.16; the margin barely matters for this model (0.5 x 0.05 gains a little
# and loses nothing on either half). Strangers' clustering at 1.00 mixes 0.2-0.3% of LFW
# faces and splits 2.2-2.5% (re-clustered and incremental); ingest's running-mean
# centroids collapse past 1.025 (incremental purity 0.949 at 1.05, 0.72 at 1.075), so one
# step is kept off that cliff.
EDGEFACE_DEFAULTS = RecognitionDefaults(
    match_threshold=1.09,
    unknown_threshold=1.16,
    margin_weight=0.5,
    margin_cap=0.05,
    cluster_threshold=1.0,
)

EDGEFACE_XS_INT8 = ModelSpec(
    model_id="edgeface_xs_int8",
    dim=512,
    metric="cosine",
    chip_size=112,
    preprocessing=(
        "similarity transform (Umeyama) of dlib's 5 landmarks onto the ArcFace 112 x 112 "
        "template; RGB, (x - 127.5) / 127.5, NCHW; output L2-normalised"
    ),
    defaults=EDGEFACE_DEFAULTS,
)
"""EdgeFace-XS (Idiap, BSD 3-Clause), dynamic int8 on onnxruntime: shipped in the package."""

EDGEFACE_XS_FLOAT = ModelSpec(
    model_id="edgeface_xs",
    dim=512,
    metric="cosine",
    chip_size=112,
    preprocessing=EDGEFACE_XS_INT8.preprocessing,
    defaults=EDGEFACE_DEFAULTS,
)
"""The same network in float32: not shipped (benchmarks and parity checks only)."""

MODEL_SPECS: dict[str, ModelSpec] = {
    spec.model_id: spec for spec in (EDGEFACE_XS_INT8, DLIB_RESNET_V1)
}
"""The models this package makes out of the box, by model id (default model first)."""
