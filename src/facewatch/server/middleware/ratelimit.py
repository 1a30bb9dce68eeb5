"""Rate limits on the server's expensive routes, applied before a request's body is read.

The token buckets and their rules are ``facewatch.security.ratelimit``; this module maps the
server's routes to groups and answers ``429`` with ``Retry-After``.
"""

from __future__ import annotations

import json
import math

from starlette.types import ASGIApp, Receive, Scope, Send

from facewatch.config import Settings
from facewatch.security.ratelimit import Rate, RateLimiter, Rule, credential_of


class RateLimitMiddleware:
    """ASGI middleware applying a ``RateLimiter`` before the request body is read."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            group = self.limiter.group_of(scope["method"], scope["path"])
            if group is not None:
                headers = dict(scope.get("headers", []))
                client = scope.get("client")
                address = str(client[0]) if client else ""
                wait = self.limiter.check(group, credential_of(headers), address)
                if wait > 0:
                    await _too_many(send, group, wait, scope["path"])
                    return
        await self.app(scope, receive, send)


async def _too_many(send: Send, group: str, wait: float, path: str) -> None:
    retry_after = max(1, math.ceil(wait))
    message = f"too many {group} requests; retry in {retry_after} s"
    if path.startswith("/api/"):
        body = json.dumps({"detail": message, "code": "too_many_requests"}).encode()
        content_type = b"application/json"
    else:
        body = f"<!doctype html><title>Too many requests</title><p>{message}</p>".encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_API = "/api/v1"
RECOGNIZE_PATHS = (
    rf"{_API}/recognize|{_API}/search|/search"
    rf"|{_API}/people/[^/]+/faces|/people/[^/]+/photos|/face-recognition/.+"
)
"""POSTs that run the face pipeline: recognition, search by photo, enrolment, compat."""
INGEST_PATHS = rf"{_API}/detections|{_API}/edge/.+"
SEARCH_PATHS = rf"{_API}/(detections|events|people|unknowns)|{_API}/(search|reports)/.+|/detections"
"""GETs that query the sightings: lists with filters, reports, exports."""


def limiter_for(settings: Settings) -> RateLimiter:
    """The limiter the settings describe (a rate of 0 turns its group off)."""
    burst = settings.rate_limit_burst_seconds
    rates = {
        "recognize": Rate(settings.rate_limit_recognize_per_minute, burst),
        "ingest": Rate(settings.rate_limit_ingest_per_minute, burst),
        "search": Rate(settings.rate_limit_search_per_minute, burst),
    }
    rules = [
        Rule.of("recognize", "POST", RECOGNIZE_PATHS),
        Rule.of("ingest", "POST", INGEST_PATHS),
        Rule.of("search", "GET", SEARCH_PATHS),
    ]
    return RateLimiter(rates, rules, settings.rate_limit_address_multiplier)
