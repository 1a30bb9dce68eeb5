"""/model: training, which Facewatch does not need; these make sure the gallery is complete."""

from __future__ import annotations

from facewatch.server.compat.auth import EnrollAccess
from facewatch.server.compat.routers.common import compat_router
from facewatch.server.compat.services import dataset
from facewatch.server.deps import RuntimeDep

router = compat_router()


@router.post("/model/train")
def post_model_train(runtime: RuntimeDep, _: EnrollAccess) -> None:
    """Return once every enrolled person is recognisable (no training step)."""
    dataset.sync_gallery(runtime)


@router.post("/model/optimized-train")
def post_model_optimized_train(runtime: RuntimeDep, _: EnrollAccess) -> None:
    """Same as /model/train."""
    dataset.sync_gallery(runtime)


@router.post("/model/generate-emb")
def post_model_generate_emb(runtime: RuntimeDep, _: EnrollAccess) -> None:
    """Same as /model/train: templates are embedded when photos are added."""
    dataset.sync_gallery(runtime)
