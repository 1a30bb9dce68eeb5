"""The layers of DESIGN.md hold: `lint-imports` keeps pyproject.toml's contracts, and breaks
on a new crossing; no router, dashboard page or CLI command commits a transaction."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, python_path: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on cwd's pyproject.toml, finding `facewatch` under python_path first."""
    env = {**os.environ, "PYTHONPATH": str(python_path)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_of_the_tree(destination: Path) -> Path:
    """The package's modules and pyproject.toml under destination; the src folder returned."""
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    keep_modules = shutil.ignore_patterns("__pycache__", "weights", "templates", "static")
    shutil.copytree(
        ROOT / "src" / "facewatch", destination / "src" / "facewatch", ignore=keep_modules
    )
    return destination / "src"


def test_the_tree_keeps_every_layer_contract() -> None:
    result = lint_imports(ROOT, ROOT / "src")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "crossing", "contract"),
    [
        ("vision/_crossing.py", "from facewatch.server import app", "vision and gallery"),
        ("gallery/_crossing.py", "import facewatch.store.db", "vision and gallery"),
        ("edge/_crossing.py", "from facewatch.server.services import recognition", "edge imports"),
        ("store/_crossing.py", "import fastapi", "store imports nothing of web code"),
        (
            "server/routers/_crossing.py",
            "from facewatch.store.repositories import people",
            "routers and dashboard pages",
        ),
        ("dashboard/_crossing.py", "from sqlalchemy.orm import Session", "routers and dashboard"),
        ("wire/_crossing.py", "from facewatch.edge import outbox", "the wire contract"),
        ("wire/_crossing.py", "import httpx", "the wire contract"),
        ("security/_crossing.py", "import starlette.types", "security is a library"),
        ("security/_crossing.py", "from facewatch.cli import common", "security is a library"),
        (
            "server/infra/_crossing.py",
            "from facewatch.cli import common",
            "infrastructure imports no",
        ),
        ("server/infra/_crossing.py", "import facewatch.server.middleware.hsts", "infrastructure"),
        (
            "server/infra/_crossing.py",
            "from facewatch.server.services import people",
            "domain services may use the server's infrastructure",
        ),
    ],
)
def test_a_new_crossing_breaks_its_contract(
    tmp_path: Path, module: str, crossing: str, contract: str
) -> None:
    src = copy_of_the_tree(tmp_path)
    (src / "facewatch" / module).write_text(f"{crossing}\n")

    result = lint_imports(tmp_path, src)

    assert result.returncode != 0
    assert "1 broken" in result.stdout
    assert f"facewatch.{module[:-3].replace('/', '.')} ->" in result.stdout
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken


def commits_in(package: Path) -> list[str]:
    """Every ``<something>.commit()`` call under ``package``, as ``file:line``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "commit"
            ):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    return found


@pytest.mark.parametrize("package", ["server/routers", "server/compat/routers", "dashboard", "cli"])
def test_no_router_page_or_command_commits_a_transaction(package: str) -> None:
    assert commits_in(ROOT / "src" / "facewatch" / package) == []


def test_the_commit_finder_finds_a_commit(tmp_path: Path) -> None:
    (tmp_path / "route.py").write_text("def f(uow):\n    uow.commit()\n")

    assert len(commits_in(tmp_path)) == 1
