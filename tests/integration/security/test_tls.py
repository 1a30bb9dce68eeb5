"""TLS: ``facewatch serve --tls-cert --tls-key`` answers https, and the edge agent's uplink
checks the server's certificate, against a custom CA when given one."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
import uvicorn
from fastapi import FastAPI

from facewatch.cli import server_options
from facewatch.config import Settings
from facewatch.edge.config import UplinkConfig
from facewatch.edge.uplink import tls_verification
from facewatch.errors import ConfigurationError


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def pem_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tls")
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server_cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    server_cert.private_key_pem.write_to_path(str(paths["key"]))
    return paths


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def https_url(
    pem_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A tiny app served by uvicorn with the options `facewatch serve` passes it."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("tls-data"),
        tls_cert=pem_files["cert"],
        tls_key=pem_files["key"],
    )
    app = FastAPI()
    app.get("/healthz")(lambda: {"status": "ok"})
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", **server_options(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_serve_passes_the_certificate_and_key_to_uvicorn(pem_files: dict[str, Path]) -> None:
    settings = Settings(tls_cert=pem_files["cert"], tls_key=pem_files["key"])
    options = server_options(settings)
    assert options["ssl_certfile"] == str(pem_files["cert"])
    assert options["ssl_keyfile"] == str(pem_files["key"])
    assert "ssl_certfile" not in server_options(Settings())


def test_a_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(ValueError, match="tls_cert and tls_key"):
        Settings(tls_cert=Path("cert.pem"))


def test_the_uplink_trusts_the_server_through_the_given_ca(
    https_url: str, pem_files: dict[str, Path]
) -> None:
    config = UplinkConfig(ca_file=pem_files["ca"])
    verify = tls_verification(config.verify_tls, config.ca_file)
    with httpx.Client(verify=verify) as client:
        assert client.get(f"{https_url}/healthz").json() == {"status": "ok"}


def test_the_uplink_refuses_a_server_its_cas_did_not_sign(https_url: str) -> None:
    with (
        httpx.Client(verify=tls_verification(True, None)) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(f"{https_url}/healthz")


def test_a_missing_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        tls_verification(True, tmp_path / "nope.pem")
