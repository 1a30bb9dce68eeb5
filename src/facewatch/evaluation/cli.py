"""The ``facewatch eval`` commands (mounted on the main CLI in ``facewatch.cli``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from platformdirs import user_cache_dir
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from facewatch.config import Settings
from facewatch.errors import InvalidInput
from facewatch.evaluation.embeddings import EmbeddingCache, enrolment_cache
from facewatch.evaluation.identification import REPORTED_FARS
from facewatch.evaluation.plots import det_plot
from facewatch.evaluation.protocol import IdentificationSet, lfw_protocol, read_set
from facewatch.evaluation.runs import (
    Embedder,
    IdentificationReport,
    run_identification,
    run_verification,
)
from facewatch.evaluation.verification import VerificationResult
from facewatch.gallery.matching import Thresholds, thresholds_from
from facewatch.vision.pipeline import create_analyzer

eval_app = typer.Typer(
    help="Measure accuracy on standard protocols (LFW verification, open-set identification).",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Where embeddings are cached (default: the user cache dir, facewatch/embeddings).",
    ),
]
NoCacheOption = Annotated[bool, typer.Option("--no-cache", help="Embed every photo again.")]
JsonOption = Annotated[bool, typer.Option("--json", help="End with a one-line JSON summary.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file (FACEWATCH_CONFIG_FILE).")
]


def default_cache_dir() -> Path:
    """The embedding cache of the evaluation tools in the user's cache directory."""
    return Path(user_cache_dir("facewatch", appauthor=False)) / "embeddings"


@eval_app.command("verify")
def verify(
    pairs: Annotated[Path, typer.Option("--pairs", help="LFW pairs file (pairs.txt layout).")],
    images: Annotated[Path, typer.Option("--images", help="Folder in the LFW layout.")],
    cache_dir: CacheOption = None,
    no_cache: NoCacheOption = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """LFW verification: 10-fold accuracy of 'same person?' through the real pipeline."""
    if not images.is_dir():
        raise InvalidInput(f"not a folder: {images}")
    settings = _settings(config)
    with _embedder(settings, cache_dir, no_cache) as (embedder, tracker):
        result = run_verification(pairs, images, embedder, tracker)
    _print_verification(result)
    if as_json:
        sys.stdout.write(json.dumps(result.summary()) + "\n")


@eval_app.command("identify")
def identify(
    gallery: Annotated[
        Path | None, typer.Option("--gallery", help="One subfolder of photos per person.")
    ] = None,
    probes: Annotated[
        Path | None,
        typer.Option("--probes", help="Subfolders per person, or files named <Person>_<NNNN>."),
    ] = None,
    unknown: Annotated[
        Path | None, typer.Option("--unknown", help="Photos of strangers (nobody enrolled).")
    ] = None,
    lfw: Annotated[
        Path | None,
        typer.Option("--lfw", help="Instead of the three folders: build the protocol from LFW."),
    ] = None,
    enrolled: Annotated[
        int, typer.Option(min=1, help="With --lfw: enrolment photos per person.")
    ] = 1,
    per_person: Annotated[
        int, typer.Option("--probes-per-person", min=1, help="With --lfw: probes per person.")
    ] = 2,
    strangers: Annotated[
        int | None, typer.Option(min=0, help="With --lfw: strangers (default: as many as probes).")
    ] = None,
    svm: Annotated[
        bool, typer.Option("--svm", help="Also evaluate the older design's SVM at 0.8.")
    ] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the DET plot to this PNG file.")
    ] = None,
    cache_dir: CacheOption = None,
    no_cache: NoCacheOption = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Open-set identification: rank-1, DIR at 1% and 0.1% false alarms, a DET plot."""
    protocol = _protocol(gallery, probes, unknown, lfw, enrolled, per_person, strangers)
    settings = _settings(config)
    thresholds = thresholds_from(settings)
    with _embedder(settings, cache_dir, no_cache) as (embedder, tracker):
        report = run_identification(protocol, embedder, thresholds, svm=svm, tracker=tracker)
    _print_identification(report, thresholds)
    if plot is not None:
        det_plot(report.rules, plot, f"{report.probes} probes, {report.unknown} strangers")
        err.print(f"DET plot written to {plot}", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(report.summary()) + "\n")


def _protocol(
    gallery: Path | None,
    probes: Path | None,
    unknown: Path | None,
    lfw: Path | None,
    enrolled: int,
    per_person: int,
    strangers: int | None,
) -> IdentificationSet:
    if lfw is not None:
        if gallery or probes or unknown:
            raise InvalidInput("give either --lfw or --gallery/--probes/--unknown, not both")
        return lfw_protocol(lfw, enrolled=enrolled, probes=per_person, strangers=strangers)
    if gallery is None or probes is None:
        raise InvalidInput("--gallery and --probes are needed (or --lfw)")
    return read_set(gallery, probes, unknown)


def _settings(config: Path | None) -> Settings:
    try:
        return Settings(config_file=config) if config else Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise InvalidInput(f"invalid setting {where}: {first['msg']}") from None


class _Bar:
    """A rich progress bar for the embedding step."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task = progress.add_task("embedding photos", total=None)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total, completed=0)

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)


@contextmanager
def _embedder(
    settings: Settings, cache_dir: Path | None, no_cache: bool
) -> Iterator[tuple[Embedder, _Bar]]:
    """The pipeline with its embedding cache, and a progress bar on stderr."""
    analyzer = create_analyzer(settings)
    folder = None if no_cache else (cache_dir or default_cache_dir())
    cache = EmbeddingCache.for_analyzer(folder, analyzer)
    enrolment = enrolment_cache(folder, analyzer, settings.enrolment_jitter)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    with progress:
        yield Embedder(analyzer, cache, settings.max_image_pixels, enrolment), _Bar(progress)


def _print_verification(result: VerificationResult) -> None:
    table = Table("fold", "threshold", "accuracy", title="LFW verification")
    for i, (t, a) in enumerate(zip(result.fold_thresholds, result.fold_accuracies, strict=True)):
        table.add_row(str(i + 1), f"{t:.3f}", f"{a:.4f}")
    out.print(table)
    out.print(
        f"accuracy {result.accuracy:.4f} ± {result.std:.4f} at threshold {result.threshold:.3f}; "
        f"{result.pairs} pairs, {result.failed} without a face (counted as errors)",
        highlight=False,
    )


def _print_identification(report: IdentificationReport, thresholds: Thresholds) -> None:
    out.print(
        f"gallery: {report.people} people, {report.templates} templates; probes: {report.probes} "
        f"({report.probes_without_face} without a face); strangers: {report.unknown} "
        f"({report.unknown_without_face} without a face)",
        highlight=False,
    )
    columns = ["rule", "rank-1", *(f"DIR at FAR {far:g}" for far in REPORTED_FARS)]
    table = Table(*columns, title="open-set identification")
    for name, scored in report.rules.items():
        rates = [f"{scored.dir_at_far(far):.3f}" for far in REPORTED_FARS]
        table.add_row(name, f"{scored.rank1:.3f}", *rates)
    out.print(table)
    d = report.at_defaults
    out.print(
        f"server defaults ({_describe(thresholds)}): known probes named right {d.known_right:.3f}, "
        f"named wrong {d.known_wrong:.3f}, uncertain {d.known_uncertain:.3f}; strangers named "
        f"{d.strangers_named:.3f}, uncertain {d.strangers_uncertain:.3f}",
        highlight=False,
    )
    if report.svm_at_08 is not None:
        right, named = report.svm_at_08
        out.print(
            f"SVM at probability 0.8: known probes named right {right:.3f}, "
            f"strangers named {named:.3f}",
            highlight=False,
        )


def _describe(thresholds: Thresholds) -> str:
    fields: dict[str, Any] = {
        "match": thresholds.match,
        "unknown": thresholds.unknown,
        "margin weight": thresholds.margin_weight,
        "margin cap": thresholds.margin_cap,
    }
    return ", ".join(f"{k} {v:g}" for k, v in fields.items())
