"""The old API's routes, one module per resource, served at the root."""

from __future__ import annotations

from fastapi import APIRouter

from facewatch.server.compat.routers import dataset, debug, face_recognition, model, people_db

router = APIRouter()
for _module in (dataset, model, face_recognition, people_db, debug):
    router.include_router(_module.router)
