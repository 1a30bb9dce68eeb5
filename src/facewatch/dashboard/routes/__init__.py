"""The dashboard's routes, one module per page."""

from fastapi import APIRouter

from facewatch.dashboard.routes import (
    cameras,
    detections,
    live,
    login,
    media,
    people,
    search,
    settings,
    webhooks,
)

ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (login, live, people, detections, search, cameras, settings, webhooks, media)
)

__all__ = ["ROUTERS"]
