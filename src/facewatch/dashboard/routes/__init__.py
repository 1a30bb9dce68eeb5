"""The dashboard's routes, one module per page."""

from fastapi import APIRouter

from facewatch.dashboard.routes import (
    audit,
    cameras,
    corrections,
    detections,
    events,
    live,
    login,
    media,
    people,
    presence,
    reports,
    search,
    settings,
    strangers,
    webhooks,
)

PAGES = (
    login,
    live,
    events,
    presence,
    people,
    strangers,
    detections,
    corrections,
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
