"""Fixtures of the scale-out tests: a local S3-compatible server, free ports, replicas."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connections are refused at once)."""
    return free_port()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server on 127.0.0.1 (moto's server, from PyPI)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty bucket on the local S3 server; credentials come from the environment."""
    import boto3

    # moto accepts any credentials; boto3 only needs some to sign with.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "facewatch-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "facewatch-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"facewatch-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name
