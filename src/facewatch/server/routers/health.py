"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from facewatch.server.deps import RuntimeDep
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import HealthOut, ModelsOut, ReadyOut
from facewatch.server.services.models import configured_model

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def get_health() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def get_ready(runtime: RuntimeDep) -> JSONResponse:
    """Ready once the models and the gallery are loaded (503 until then)."""
    gallery = runtime.loaded_gallery
    if gallery is None:
        body = ReadyOut(status="loading", people=0, templates=0, model=None)
        return JSONResponse(body.model_dump(), status_code=503)
    body = ReadyOut(
        status="ready",
        people=gallery.people_count,
        templates=len(gallery),
        model=gallery.model_id,
        models=_models(runtime),
    )
    return JSONResponse(body.model_dump())


def _models(runtime: Runtime) -> ModelsOut:
    """From memory: the re-embed job keeps ``runtime.model_status`` fresh."""
    status = runtime.model_status
    configured = configured_model(runtime.settings)
    serving = runtime.serving_model
    current = serving == configured
    return ModelsOut(
        serving=serving,
        configured=configured,
        state="current" if current else "reembedding",
        progress=1.0 if current or status is None else round(status.progress, 4),
        people_left_out=0
        if status is None
        else len(status.people_left_out) + len(status.people_without_photo),
    )
