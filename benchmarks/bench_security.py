"""What security costs: AES-GCM per embedding and per crop, loading a gallery of encrypted
templates, and the request middlewares (audit context, rate limits, body timeout).

    python benchmarks/bench_security.py [--templates 20000] [--requests 2000]

Prints a Markdown table; every figure is measured side by side (clear vs encrypted, bare
app vs the same app with the middlewares) in one run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from _shared import machine_line
from facewatch.config import Settings
from facewatch.security.crypto import Keyring, new_master_key
from facewatch.server.infra.runtime import Runtime
from facewatch.server.middleware.audit import AuditContextMiddleware
from facewatch.server.middleware.ratelimit import RateLimitMiddleware, limiter_for
from facewatch.server.middleware.timeouts import BodyTimeout


def _best_of(runs: int, work: Callable[[], object]) -> float:
    """The fastest of ``runs`` timings of ``work`` (seconds): the least disturbed by load."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def crypto_costs(count: int = 20_000) -> dict[str, float]:
    ring = Keyring.from_texts(new_master_key())
    embedding = np.random.default_rng(0).standard_normal(128).astype("<f4").tobytes()
    crop = os.urandom(12_000)  # a 150x150 JPEG crop is about 8-15 kB
    sealed_e, sealed_c = ring.seal(embedding, "e"), ring.seal(crop, "b")
    return {
        "seal embedding (us)": _best_of(
            3, lambda: [ring.seal(embedding, "e") for _ in range(count)]
        )
        / count
        * 1e6,
        "open embedding (us)": _best_of(3, lambda: [ring.open(sealed_e, "e") for _ in range(count)])
        / count
        * 1e6,
        "seal 12 kB crop (us)": _best_of(3, lambda: [ring.seal(crop, "b") for _ in range(2000)])
        / 2000
        * 1e6,
        "open 12 kB crop (us)": _best_of(3, lambda: [ring.open(sealed_c, "b") for _ in range(2000)])
        / 2000
        * 1e6,
    }


def gallery_load(templates: int, key: str | None, folder: Path) -> float:
    """Seconds to read every template (the gallery load) with or without encryption."""
    settings = Settings(data_dir=folder, encryption_key=key, analysis_workers=0)
    runtime = Runtime.open(settings)
    try:
        vectors = np.random.default_rng(1).standard_normal((templates, 128)).astype(np.float32)
        with runtime.uow() as uow:
            for start in range(0, templates, 50):
                person = uow.people.add(f"p{start}")
                for vector in vectors[start : start + 50]:
                    uow.templates.add(person.id, vector, "bench", 0.9, [0, 0, 10, 10], None)
            uow.commit()

        def load() -> None:
            with runtime.uow() as uow:
                rows = list(uow.templates.all_for_model("bench"))
            assert len(rows) == templates

        return _best_of(3, load)
    finally:
        runtime.close()


async def _plain_app(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def middleware_cost(requests: int) -> dict[str, float]:
    """Microseconds per request spent in the ASGI stack, bare and behind the middlewares
    (called directly, without a client, so that only the middlewares are measured)."""
    settings = Settings(data_dir=Path(tempfile.mkdtemp()))
    limiter = limiter_for(settings.model_copy(update={"rate_limit_search_per_minute": 10**9}))
    wrapped: ASGIApp = BodyTimeout(_plain_app, seconds=60)
    wrapped = AuditContextMiddleware(wrapped)
    wrapped = RateLimitMiddleware(wrapped, limiter)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/detections",  # a rate-limited path
        "query_string": b"person_id=3&limit=50",
        "headers": [(b"authorization", b"Bearer fw_AbCdEfGh_secret")],
        "client": ("10.0.0.1", 1234),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    async def run(app: ASGIApp) -> float:
        started = time.perf_counter()
        for _ in range(requests):
            await app(dict(scope), receive, send)
        return (time.perf_counter() - started) / requests * 1e6

    bare = min(anyio.run(run, _plain_app) for _ in range(3))
    protected = min(anyio.run(run, wrapped) for _ in range(3))
    return {"bare ASGI app": bare, "with the three middlewares": protected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--templates", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.1f}")
    print("| measure | value |\n|---|---|")
    for name, value in crypto_costs().items():
        print(f"| {name} | {value:.1f} |")
    with tempfile.TemporaryDirectory() as clear, tempfile.TemporaryDirectory() as sealed:
        plain = gallery_load(args.templates, None, Path(clear))
        encrypted = gallery_load(args.templates, new_master_key(), Path(sealed))
    print(f"| gallery load, {args.templates} templates, clear (s) | {plain:.3f} |")
    print(f"| gallery load, {args.templates} templates, encrypted (s) | {encrypted:.3f} |")
    print(f"| encrypted / clear | {encrypted / plain:.2f}x |")
    for name, value in middleware_cost(args.requests).items():
        print(f"| one request, {name} (us) | {value:.1f} |")
    print(f"\n{machine_line()}; load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
