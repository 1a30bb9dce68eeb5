"""The dashboard's routes, one module per page."""

from fastapi import APIRouter

from facewatch.dashboard.routes import (
    audit,
    cameras,
    detections,
    live,
    login,
    media,
    people,
    reports,
    search,
    settings,
    webhooks,
)

PAGES = (
    login,
    live,
    people,
    detections,
    reports,
    search,
    cameras,
    settings,
    webhooks,
    audit,
    media,
)
ROUTERS: tuple[APIRouter, ...] = tuple(module.router for module in PAGES)

__all__ = ["ROUTERS"]
