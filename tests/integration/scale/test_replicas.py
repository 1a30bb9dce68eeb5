"""The multi-replica harness (deploy/harness/run_replicas.py), run as CI runs it.

Three ``facewatch serve`` processes on one PostgreSQL database and one S3-compatible
server, behind nginx (or the harness's Python proxy where nginx is not installed); one is
killed mid-traffic, one drained with SIGTERM. The script checks and reports; this test
runs it and reads its report.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import httpx
import pytest

HARNESS = Path(__file__).resolve().parents[3] / "deploy" / "harness"


def load_harness_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("harness_replicas", HARNESS / "replicas.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.postgres
def test_three_replicas_survive_a_kill_and_stay_in_sync(
    testdata: Path, postgres_database_url: str, tmp_path: Path
) -> None:
    # postgres_database_url: fails in CI (skips elsewhere) without a PostgreSQL server.
    report_path = tmp_path / "report.json"
    command = [sys.executable, str(HARNESS / "run_replicas.py"), "--items", "30"]
    env = os.environ | {"FACEWATCH_TESTDATA": str(testdata)}
    done = subprocess.run(
        [*command, "--json", str(report_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert report_path.is_file(), done.stderr[-4000:]
    report = json.loads(report_path.read_text())
    failed = [name for name, passed in report["checks"].items() if not passed]
    assert not failed, f"{failed}\n{done.stderr[-4000:]}"
    assert done.returncode == 0
    assert report["stored"] == report["ingested"] == 30
    assert all(0 <= s <= 2.0 for delays in report["propagation_s"].values() for s in delays)


class _Hello(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = self.server.server_address[1].to_bytes(4, "big") + body  # type: ignore[union-attr]
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstreams() -> Iterator[list[ThreadingHTTPServer]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Hello) for _ in range(3)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_python_proxy_spreads_requests_and_skips_a_dead_replica(
    upstreams: list[ThreadingHTTPServer],
) -> None:
    harness = load_harness_module()
    ports = [s.server_address[1] for s in upstreams]
    balancer = harness.PythonBalancer(ports)
    try:

        def served_by() -> int:
            response = httpx.post(balancer.url + "/x", content=b"payload", timeout=10)
            assert response.status_code == 200
            assert response.content[4:] == b"payload"
            return int.from_bytes(response.content[:4], "big")

        assert {served_by() for _ in range(6)} == set(ports)
        upstreams[1].shutdown()
        upstreams[1].server_close()
        assert {served_by() for _ in range(6)} == {ports[0], ports[2]}
    finally:
        balancer.stop()
