"""Several ``facewatch serve`` replicas on one PostgreSQL database behind a load balancer.

The pieces of the multi-replica harness (``run_replicas.py``) and of the replica benchmark
(``benchmarks/bench_replicas.py``): a fresh PostgreSQL database, shared blob storage (a
directory standing for a shared volume, or a local S3-compatible server), N server
processes on their own ports and data directories, and nginx (Debian's, when installed)
or a small Python reverse proxy in front of them. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger("harness")

POSTGRES_ADMIN_URL = os.environ.get(
    "FACEWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
READY_TIMEOUT_S = 180.0
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "trailer"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- storage ---------------------------------------------------------------------------
@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped afterwards."""
    import psycopg
    from sqlalchemy import make_url

    name = f"facewatch_harness_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def s3_storage() -> Iterator[dict[str, str]]:
    """A local S3-compatible server (moto's) with one bucket; the replicas' environment."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ACCESS_KEY_ID": "harness",
        "AWS_SECRET_ACCESS_KEY": "harness-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        client.create_bucket(Bucket="facewatch")
        yield env | {
            "FACEWATCH_BLOB_URL": "s3://facewatch/blobs",
            "FACEWATCH_S3_ENDPOINT_URL": endpoint,
        }
    finally:
        server.stop()


# --- replicas --------------------------------------------------------------------------
@dataclass
class Replica:
    """One ``facewatch serve`` process."""

    index: int
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: what a crash, an OOM kill or a lost node does."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, as Kubernetes sends; waits for the process to drain and exit."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=30)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def start_replica(index: int, env: dict[str, str], workdir: Path) -> Replica:
    """Start ``facewatch serve`` on a free port, with a data directory of its own."""
    port = free_port()
    data_dir = workdir / f"replica-{index}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"replica-{index}.log"
    command = [
        sys.executable,
        "-c",
        "from facewatch.cli import main; main()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    replica_env = os.environ | env | {"FACEWATCH_DATA_DIR": str(data_dir)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=replica_env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
    return Replica(index, port, process, log_path)


def wait_ready(replica: Replica, timeout: float = READY_TIMEOUT_S) -> float:
    """Seconds until ``/readyz`` answered 200 (models and gallery loaded)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not replica.alive:
            raise RuntimeError(f"replica {replica.index} exited:\n{replica.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{replica.url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"replica {replica.index} not ready in {timeout} s:\n{replica.log_tail()}")


# --- load balancers --------------------------------------------------------------------
class LoadBalancer:
    """Something on 127.0.0.1:port spreading requests over the replicas."""

    kind = "none"
    port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        raise NotImplementedError


class NginxBalancer(LoadBalancer):
    """Debian's nginx, round robin; a refused connection moves the request to the next
    replica (nginx never resends a POST that reached a replica, so only requests in flight
    on a replica that dies fail)."""

    kind = "nginx"

    def __init__(self, upstreams: list[int], workdir: Path) -> None:
        self.port = free_port()
        self.folder = workdir / "nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
            (self.folder / sub).chmod(0o777)  # nginx workers run as nobody under root
        config = self.folder / "nginx.conf"
        config.write_text(_nginx_config(self.port, upstreams, self.folder), encoding="utf-8")
        error_log = str(self.folder / "error.log")
        self.process = subprocess.Popen(
            [_nginx(), "-e", error_log, "-c", str(config), "-p", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        _wait_port(self.port, self.process)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _nginx() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_available() -> bool:
    return Path(_nginx()).is_file()


def _nginx_config(port: int, upstreams: list[int], folder: Path) -> str:
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;" for p in upstreams
    )
    return f"""
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size 50m;
    client_body_buffer_size 4m;
    upstream facewatch {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://facewatch;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


def _wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the load balancer exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class PythonBalancer(LoadBalancer):
    """A small threaded reverse proxy, round robin, moving a request on to the next replica
    only when the connection is refused (the request never reached the first one)."""

    kind = "python"

    def __init__(self, upstreams: list[int]) -> None:
        self.upstreams = upstreams
        self._next = itertools.count()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def order(self) -> list[int]:
        start = next(self._next) % len(self.upstreams)
        return self.upstreams[start:] + self.upstreams[:start]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _proxy_handler(balancer: PythonBalancer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            for port in balancer.order():
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                try:
                    connection.connect()
                except OSError:
                    continue  # refused: the request never left, try the next replica
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    self._relay(response.status, response.getheaders(), response.read())
                except OSError:
                    self._relay(502, [], b'{"detail": "replica failed mid-request"}')
                finally:
                    connection.close()
                return
            self._relay(502, [], b'{"detail": "no replica reachable"}')

        def _relay(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP | {"content-length", "date", "server"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --- the whole set-up ------------------------------------------------------------------
@dataclass
class Cluster:
    """Replicas, their database and blobs, and the balancer in front of them."""

    database_url: str
    env: dict[str, str]
    workdir: Path
    api_key: str
    replicas: list[Replica] = field(default_factory=list)
    balancer: LoadBalancer | None = None

    @property
    def url(self) -> str:
        assert self.balancer is not None
        return self.balancer.url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def alive(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive]


def create_api_key(env: dict[str, str], data_dir: Path) -> str:
    """Migrate the database (as the first replica would) and make an admin key."""
    from facewatch.config import Settings
    from facewatch.server.infra.runtime import Runtime

    settings = Settings(
        data_dir=data_dir,
        database_url=env["FACEWATCH_DATABASE_URL"],
        blob_url=str(data_dir / "unused-blobs"),
    )
    runtime = Runtime.open(settings)
    try:
        with runtime.uow() as uow:
            _, secret = uow.api_keys.create("harness", ["admin"])
            uow.commit()
    finally:
        runtime.close()
    return secret


@contextlib.contextmanager
def cluster(
    replicas: int,
    *,
    blobs: str = "dir",
    balancer: str = "auto",
    extra_env: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    """Start everything; stop and remove everything on the way out."""
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fw-harness-")))
        database_url = stack.enter_context(postgres_database())
        env = {"FACEWATCH_DATABASE_URL": database_url} | (extra_env or {})
        if blobs == "s3":
            env |= stack.enter_context(s3_storage())
        else:
            shared = workdir / "shared-volume"
            shared.mkdir()
            env["FACEWATCH_BLOB_URL"] = str(shared)
        found = Cluster(database_url, env, workdir, create_api_key(env, workdir / "admin"))
        stack.callback(_stop_all, found)
        found.replicas = [start_replica(i + 1, env, workdir) for i in range(replicas)]
        for replica in found.replicas:
            logger.info("replica %s ready in %.1f s", replica.index, wait_ready(replica))
        found.balancer = _balancer(balancer, [r.port for r in found.replicas], workdir)
        logger.info("load balancer: %s on %s", found.balancer.kind, found.balancer.url)
        yield found


def _balancer(kind: str, ports: list[int], workdir: Path) -> LoadBalancer:
    if kind == "nginx" or (kind == "auto" and nginx_available()):
        return NginxBalancer(ports, workdir)
    return PythonBalancer(ports)


def _stop_all(found: Cluster) -> None:
    if found.balancer is not None:
        found.balancer.stop()
    for replica in found.replicas:
        if replica.alive:
            replica.terminate(timeout=30)
