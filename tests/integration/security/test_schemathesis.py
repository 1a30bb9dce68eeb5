"""Schemathesis against the app's own OpenAPI schema: no 500 and no crash, whatever the
input, over more than 1,000 generated requests (valid and invalid ones).

Deterministic (derandomized, fixed seed) and short: a few examples per operation, sent
with an admin key (most) or none, through one TestClient.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from support_security import make_key, runtime_of

EXAMPLES_PER_OPERATION = int(os.environ.get("FW_FUZZ_EXAMPLES", "24"))
MIN_CASES = 1000
STREAMS = {"/api/v1/events/stream"}  # endless event streams (their access rules are tested)


@pytest.fixture(scope="module")
def fuzzed_app(app_factory: Callable[..., TestClient]) -> TestClient:
    return app_factory()


def test_no_generated_request_gets_a_server_error(fuzzed_app: TestClient) -> None:
    admin = make_key(runtime_of(fuzzed_app), "admin")
    schema = schemathesis.openapi.from_dict(fuzzed_app.app.openapi())  # type: ignore[attr-defined]
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path not in STREAMS
    ]
    assert len(operations) > 40
    sent: list[tuple[str, int]] = []
    failures: list[str] = []
    for operation in operations:
        _fuzz(fuzzed_app, operation, admin, sent, failures)
    assert failures == []
    assert len(sent) >= MIN_CASES


def _fuzz(
    client: TestClient,
    operation: schemathesis.APIOperation,
    admin: dict[str, str],
    sent: list[tuple[str, int]],
    failures: list[str],
) -> None:
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @seed(20261123)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, authorised=st.booleans() | st.just(True))
    def run(case: schemathesis.Case, authorised: bool) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        headers = dict(kwargs.pop("headers", None) or {})
        kwargs.pop(
            "cookies", None
        )  # the API reads no cookies (and per-request ones are deprecated)
        if authorised:
            headers.update(admin)
        response = client.request(headers=headers, **kwargs)
        sent.append((operation.label, response.status_code))
        if response.status_code >= 500:
            query = kwargs.get("params")
            failures.append(f"{case.method} {case.formatted_path} {query}: {response.status_code}")

    run()
