"""Helpers shared by the benchmark scripts: where the test data is, what machine this is."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

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
