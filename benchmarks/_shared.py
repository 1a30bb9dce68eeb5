"""Helpers shared by the benchmark scripts: test data, the machine, a real server to measure."""

from __future__ import annotations

import gzip
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import numpy as np

from facewatch.types import Box
from facewatch.vision.detectors import HogDetector

REPO_ROOT = Path(__file__).resolve().parent.parent


def testdata_dir() -> Path:
    """The real-face test data: ``FACEWATCH_TESTDATA``, default ``../shared/testdata``."""
    folder = Path(os.environ.get("FACEWATCH_TESTDATA") or REPO_ROOT.parent / "shared" / "testdata")
    if not folder.is_dir():
        raise SystemExit(f"test data not found at {folder}; set FACEWATCH_TESTDATA")
    return folder


def machine() -> dict[str, str]:
    """Date (UTC), CPU model, core count and RAM of this machine, for the results."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "nproc": str(os.cpu_count()),
        "ram": _ram(),
        "python": platform.python_version(),
        "code": code_version(),
    }


def machine_line() -> str:
    """One line describing the machine, to print under a results table."""
    info = machine()
    return (
        f"{info['date']}; {info['nproc']} cores ({info['cpu']}), {info['ram']} RAM, "
        f"Python {info['python']}; facewatch {info['code']}"
    )


def code_version() -> str:
    """The commit the code was run at, marked when src/ had uncommitted changes."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.CalledProcessError):
        return "unknown version"
    return f"at {commit}" + (" with uncommitted changes in src/" if dirty else "")


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    for line in lines:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


# --- a real server ------------------------------------------------------------------------
def cli(*args: str) -> list[str]:
    """The command line of ``facewatch ARGS`` with this interpreter."""
    return [sys.executable, "-m", "facewatch.cli", *args]


def create_key(env: dict[str, str], scope: str, *args: str) -> str:
    """A new API key of ``scope`` made with ``facewatch keys create`` in ``env``."""
    done = subprocess.run(
        cli("keys", "create", "--scope", scope, *args), env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"keys create --scope {scope} failed:\n{done.stderr}")
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(
    env: dict[str, str], log_path: Path, *args: str, ready_within: float = 300
) -> Iterator[tuple[str, int]]:
    """``facewatch serve ARGS`` on a free port, its output in ``log_path``; yields its base
    URL and process id once /readyz answers 200; stopped (terminated, then killed) after."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            cli("serve", "--port", str(port), *args), env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_ready(base_url, process, log_path, ready_within)
            yield base_url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited early:\n{log.read_text(encoding='utf-8')}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the server was not ready within {seconds:.0f} s; see {log}")


# --- faces of a clip ----------------------------------------------------------------------
STREET_CLIP = "facenet_pytorch/examples/video.mp4"
STREET_FRAMES = range(0, 97, 8)


def video_faces(
    video: Path, frames: Iterable[int] = STREET_FRAMES
) -> Iterator[tuple[np.ndarray, Box]]:
    """Each face HOG (upsampled once) finds in ``frames`` of ``video``: the frame (RGB) and box."""
    detector = HogDetector(upsample=1)
    capture = cv2.VideoCapture(str(video))
    try:
        for index in frames:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if not ok:
                break
            rgb = np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            for face in detector.detect(rgb):
                yield rgb, face.box
    finally:
        capture.release()


def accept_edge_requests(request: httpx.Request) -> httpx.Response:
    """A fake server for an agent's uplink (an ``httpx.MockTransport`` handler): 201 for a
    single item, a 201 result per item for a batch."""
    if not request.url.path.endswith("/batch"):
        return httpx.Response(201, json={"detections": [], "replayed": False})
    body = request.read()
    start = body.index(b"\r\n\r\n", body.index(b'name="manifest_gz"')) + 4
    manifest = json.loads(gzip.decompress(body[start : body.index(b"\r\n--", start)]))
    results = [{"idempotency_key": i["idempotency_key"], "status": 201} for i in manifest["items"]]
    return httpx.Response(200, json={"results": results})


def fast_tmp() -> str | None:
    """tmpfs if there is one: an outbox syncs every write, which is not what is measured."""
    return "/dev/shm" if Path("/dev/shm").is_dir() else None
