"""What every ``facewatch`` command shares: settings, the runtime, consoles, options."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from facewatch.config import Settings
from facewatch.errors import InvalidInput
from facewatch.security.audit import acting_as, cli_actor
from facewatch.server.infra.runtime import Runtime
from facewatch.store.data_lock import holding_data_dir

out = Console()
err = Console(stderr=True)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Data directory (default: FACEWATCH_DATA_DIR or user dir).",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", metavar="FILE", help="YAML settings file (FACEWATCH_CONFIG_FILE)."),
]


def load_settings(data_dir: Path | None, config: Path | None, **extra: Any) -> Settings:
    """Settings from the environment, a YAML file and the command's own options."""
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if config is not None:
        overrides["config_file"] = config
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise InvalidInput(f"invalid setting {where}: {first['msg']}") from None
    return _absolute_data_dir(settings)


def _absolute_data_dir(settings: Settings) -> Settings:
    """The settings with a relative data directory made absolute once, and said: a server
    or job started from another folder would otherwise use (or create) another one."""
    if settings.data_dir.is_absolute():
        return settings
    resolved = settings.data_dir.expanduser().resolve()
    err.print(
        f"data directory: {settings.data_dir} is {resolved}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return settings.model_copy(update={"data_dir": resolved})


@contextmanager
def opened(
    data_dir: Path | None, config: Path | None, *, exclusive: bool = False
) -> Iterator[Runtime]:
    """The runtime of a command; ``exclusive``: it changes much at once, so it holds the
    data directory's lock as a server does (``store/data_lock.py``)."""
    settings = load_settings(data_dir, config)
    holder = f"facewatch {' '.join(sys.argv[1:3])}".strip()
    # What a command changes is audited as done by the OS user who ran it.
    with (
        holding_data_dir(settings, holder) if exclusive else nullcontext(),
        acting_as(cli_actor()),
    ):
        runtime = Runtime.open(settings)
        try:
            yield runtime
        finally:
            runtime.close()


@dataclass(frozen=True)
class ImageFile:
    """An image to read, and how to name it to the user."""

    path: Path
    label: str
    """The path relative to the folder given, or the file's name if given itself."""


def image_files(paths: list[Path]) -> list[ImageFile]:
    """Image files among the paths, folders searched recursively, in a stable order.

    A missing path, a folder without images or a file that is not an image is an
    ``InvalidInput``: an empty result would read as "no faces".
    """
    found: list[ImageFile] = []
    for path in paths:
        if path.is_dir():
            images = images_in(path)
            if not images:
                raise InvalidInput(f"no images in {path} (looked for {_suffixes()})")
            found += [ImageFile(p, str(p.relative_to(path))) for p in images]
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise InvalidInput(f"not an image: {path} (expected {_suffixes()})")
            found.append(ImageFile(path, path.name))
        else:
            raise InvalidInput(f"no such file or folder: {path}")
    return found


def images_in(folder: Path) -> list[Path]:
    """The image files under ``folder``, recursively, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _suffixes() -> str:
    return ", ".join(sorted(IMAGE_SUFFIXES))


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def setup_logging(level: int = logging.WARNING) -> None:
    logging.basicConfig(
        level=level, format="%(message)s", handlers=[RichHandler(console=err, show_path=False)]
    )


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``1w2d``, ``0``: a duration; ``InvalidInput`` otherwise."""
    cleaned = text.strip().lower()
    if cleaned == "0":
        return timedelta(0)
    parts = _DURATION.findall(cleaned)
    if not parts or _DURATION.sub("", cleaned).strip():
        raise InvalidInput(f"not a duration: {text!r} (say 90d, 12h, 30m or 1w)")
    return timedelta(seconds=sum(float(n) * _UNITS[unit] for n, unit in parts))
