"""Small hardening rules from the adversarial review (issue 17, finding 9)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from facewatch.cli import server_options
from facewatch.config import Settings
from facewatch.server.infra.runtime import Runtime
from facewatch.server.middleware.hsts import StrictTransportSecurity
from facewatch.server.services.csv_cells import spreadsheet_safe
from support import assert_error


@pytest.mark.parametrize(
    "path",
    ["/api/v1/detections", "/api/v1/recognize", "/api/v1/edge/batch", "/api/v1/people/1/faces"],
)
@pytest.mark.parametrize("key", [None, "Bearer fw_not_a_real_key"])
def test_a_request_without_a_valid_key_gets_401_before_its_body_is_looked_at(
    client: TestClient, path: str, key: str | None
) -> None:
    headers = {} if key is None else {"Authorization": key}
    assert_error(client.post(path, headers=headers), 401, "unauthorized")
    json_body = client.post(path, json={"x": 1}, headers=headers)
    assert_error(json_body, 401, "unauthorized")


def test_with_a_key_a_body_that_is_not_multipart_is_still_415(
    client: TestClient, make_key: Callable[..., dict[str, str]]
) -> None:
    answer = client.post("/api/v1/detections", json={"x": 1}, headers=make_key("ingest"))
    assert_error(answer, 415)


@pytest.mark.parametrize("value", [1e19, -1e19, 101.0])
def test_an_embedding_with_huge_values_is_a_400_not_a_conflict(
    client: TestClient, runtime: Runtime, make_key: Callable[..., dict[str, str]], value: float
) -> None:
    vector = np.zeros(runtime.analyzer.embedding_dim, dtype="<f4")
    vector[3] = value
    data = {"camera_id": "cam-huge", "model": runtime.model_id, "box": "1,1,20,20"}
    files = {"embedding": ("e", vector.tobytes(), "application/octet-stream")}
    answer = client.post(
        "/api/v1/edge/embeddings", data=data, files=files, headers=make_key("ingest")
    )
    assert_error(answer, 400, "invalid_input")
    assert "within" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Zoe\u200b Quist", "Zoe Quist"),  # zero-width space
        ("Zoe\u200d Quist", "Zoe Quist"),  # zero-width joiner
        ("\uff3aoe Quist", "Zoe Quist"),  # fullwidth Z
        ("Zoe  Quist ", "Zoe Quist"),
    ],
)
def test_names_that_look_alike_are_one_name(
    client: TestClient, admin: dict[str, str], typed: str, stored: str
) -> None:
    created = client.post("/api/v1/people", json={"name": stored}, headers=admin)
    if created.status_code == 201:
        assert created.json()["name"] == stored
    again = client.post("/api/v1/people", json={"name": typed}, headers=admin)
    assert_error(again, 409, "conflict")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("Ada", "Ada"),
        (-1.5, -1.5),
    ],
)
def test_csv_cells_never_start_a_formula(value: object, cell: object) -> None:
    assert spreadsheet_safe(value) == cell


def test_the_audit_export_escapes_a_formula_in_a_name(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = client.post("/api/v1/people", json={"name": "=1+2 Formula"}, headers=admin)
    assert created.status_code == 201, created.text
    exported = client.get("/api/v1/audit/export", params={"format": "csv"}, headers=admin)
    assert exported.status_code == 200, exported.text
    cells = [cell for row in csv.reader(io.StringIO(exported.text)) for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]


def test_x_forwarded_for_is_trusted_from_no_proxy_by_default() -> None:
    options = server_options(Settings())
    assert options["proxy_headers"] is False
    assert options["forwarded_allow_ips"] == ""


def test_answers_carry_hsts_under_tls() -> None:
    async def hello(_: object) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = StrictTransportSecurity(Starlette(routes=[Route("/", hello)]))
    with TestClient(app) as plain:
        answer = plain.get("/")
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
