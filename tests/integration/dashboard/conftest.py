"""The dashboard against the real app: over httpx (TestClient), and served by uvicorn to a
real Chromium driven by Playwright.

Chromium is Debian's (/usr/bin/chromium, or FACEWATCH_TEST_CHROMIUM); Playwright never
downloads a browser. Screenshots go to tests/artifacts/dashboard/ (git-ignored).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from facewatch.config import Settings
from facewatch.server.app import create_app
from facewatch.server.infra.runtime import Runtime
from support_dashboard import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    KNN,
    LiveServer,
    add_users,
    app_runtime,
    chromium_path,
    dashboard_settings,
    log_in,
    photo_to_y4m,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

_ADDRESSES = itertools.count(1)


# --- the app over httpx ----------------------------------------------------------------
@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return dashboard_settings(tmp_path_factory.mktemp("dashboard-data"))


@pytest.fixture(scope="module")
def app_client(settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan run (no user logged in; see ``client_as``)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        add_users(app_runtime(client.app))
        yield client


@pytest.fixture(scope="module")
def runtime(app_client: TestClient) -> Runtime:
    return app_runtime(app_client.app)


@pytest.fixture
def new_client(app_client: TestClient) -> Iterator[Callable[..., TestClient]]:
    """Makes cookie-less clients of the app: ``new_client(address=..., https=...)``.

    Each test's clients get their own address unless told, so that the failed logins of
    one test never count against another in the per-address limit.
    """
    made: list[TestClient] = []

    def make(address: str | None = None, https: bool = False) -> TestClient:
        client = TestClient(
            app_client.app,
            base_url="https://testserver" if https else "http://testserver",
            raise_server_exceptions=False,
            client=(address or f"client-{next(_ADDRESSES)}", 50000),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(scope="module")
def client_as(app_client: TestClient) -> Iterator[Callable[[str], tuple[TestClient, str]]]:
    """A client logged in as a role, one per role and module (logging in costs an argon2
    verification): ``client, csrf = client_as("operator")``. Do not log it out."""
    logged_in: dict[str, tuple[TestClient, str]] = {}

    def get(role: str) -> tuple[TestClient, str]:
        if role not in logged_in:
            client = TestClient(
                app_client.app, raise_server_exceptions=False, client=(f"{role}-desk", 50000)
            )
            logged_in[role] = (client, log_in(client, role))
        return logged_in[role]

    yield get
    for client, _ in logged_in.values():
        client.close()


@pytest.fixture(scope="module")
def knn(testdata: Path) -> Path:
    return testdata / KNN


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app served over HTTP, with one user per role."""
    server = LiveServer(create_app(dashboard_settings(tmp_path_factory.mktemp("live-data"))))
    server.start()
    try:
        add_users(server.runtime)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fake_webcam(knn: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Y4M video of a test photo, which Chromium plays as its webcam."""
    return photo_to_y4m(knn / "train" / "biden" / "biden.jpg", tmp_path_factory.mktemp("webcam"))


@pytest.fixture(scope="module")
def browser(fake_webcam: Path) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={fake_webcam}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (printed at the end of the run)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


BROWSER_TIMEOUT_MS = 30_000


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A fresh browser context on the live server, desktop-sized; closed after the test."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def ingest_key(live_server: LiveServer) -> str:
    """An API key with the ingest scope, as a camera holds (the browser tests' uploads)."""
    with live_server.runtime.uow() as uow:
        _, secret = uow.api_keys.create("browser test camera", ["ingest"])
        uow.commit()
    return secret
