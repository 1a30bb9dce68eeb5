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
from facewatch.evaluation.compare import EMBEDDER_NAMES, Contender, contenders
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
from facewatch.gallery.matching import Thresholds
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
EmbedderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--embedder",
        help=(
            f"Embedder to evaluate ({', '.join(EMBEDDER_NAMES)}); repeat it to compare models "
            "side by side in one run, each at its own default thresholds. Default: the "
            "configured one (FACEWATCH_EMBEDDER)."
        ),
    ),
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
    embedders: EmbedderOption = None,
) -> None:
    """LFW verification: 10-fold accuracy of 'same person?' through the real pipeline."""
    if not images.is_dir():
        raise InvalidInput(f"not a folder: {images}")
    models = contenders(_settings(config), embedders)
    results: list[tuple[Contender, VerificationResult]] = []
    with _progress() as progress:
        for model in models:
            embedder = _pipeline(model.settings, cache_dir, no_cache)
            tracker = _Bar(progress, model.name)
            results.append((model, run_verification(pairs, images, embedder, tracker)))
    for model, result in results:
        _print_verification(result, model)
    if len(results) > 1:
        _print_verification_side_by_side(results)
    if as_json:
        summaries = [{**_names(model), **result.summary()} for model, result in results]
        _write_summary(summaries)


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
    embedders: EmbedderOption = None,
) -> None:
    """Open-set identification: rank-1, DIR at 1% and 0.1% false alarms, a DET plot."""
    protocol = _protocol(gallery, probes, unknown, lfw, enrolled, per_person, strangers)
    models = contenders(_settings(config), embedders)
    reports: list[tuple[Contender, IdentificationReport]] = []
    with _progress() as progress:
        for model in models:
            embedder = _pipeline(model.settings, cache_dir, no_cache)
            tracker = _Bar(progress, model.name)
            report = run_identification(
                protocol, embedder, model.thresholds, svm=svm, tracker=tracker
            )
            reports.append((model, report))
    for model, report in reports:
        _print_identification(report, model)
    if len(reports) > 1:
        _print_identification_side_by_side(reports)
    if plot is not None:
        _plot(reports, plot)
    if as_json:
        _write_summary([_identification_summary(model, report) for model, report in reports])


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
    """A rich progress bar for one embedder's embedding step."""

    def __init__(self, progress: Progress, name: str) -> None:
        self._progress = progress
        self._task = progress.add_task(f"embedding photos ({name})", total=None)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total, completed=0)

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)


@contextmanager
def _progress() -> Iterator[Progress]:
    """Progress bars on stderr, gone when the run ends."""
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
        yield progress


def _pipeline(settings: Settings, cache_dir: Path | None, no_cache: bool) -> Embedder:
    """The pipeline of ``settings`` with its embedding caches (one file per model)."""
    analyzer = create_analyzer(settings)
    folder = None if no_cache else (cache_dir or default_cache_dir())
    cache = EmbeddingCache.for_analyzer(folder, analyzer)
    enrolment = enrolment_cache(folder, analyzer, settings.enrolment_jitter)
    return Embedder(analyzer, cache, settings.max_image_pixels, enrolment)


def _names(model: Contender) -> dict[str, object]:
    return {"embedder": model.name, "model": model.model_id}


def _write_summary(summaries: list[dict[str, object]]) -> None:
    """The last line: one model's summary, or ``{"embedders": [...]}`` for several."""
    line = summaries[0] if len(summaries) == 1 else {"embedders": summaries}
    sys.stdout.write(json.dumps(line) + "\n")


def _print_verification(result: VerificationResult, model: Contender) -> None:
    table = Table("fold", "threshold", "accuracy", title=f"LFW verification, {model.label}")
    for i, (t, a) in enumerate(zip(result.fold_thresholds, result.fold_accuracies, strict=True)):
        table.add_row(str(i + 1), f"{t:.3f}", f"{a:.4f}")
    out.print(table)
    out.print(
        f"accuracy {result.accuracy:.4f} ± {result.std:.4f} at threshold {result.threshold:.3f}; "
        f"{result.pairs} pairs, {result.failed} without a face (counted as errors)",
        highlight=False,
    )


def _print_verification_side_by_side(results: list[tuple[Contender, VerificationResult]]) -> None:
    table = Table("embedder", "accuracy", "±", "threshold", "pairs", "without a face")
    table.title = "LFW verification, side by side"
    for model, r in results:
        table.add_row(
            model.label,
            f"{r.accuracy:.4f}",
            f"{r.std:.4f}",
            f"{r.threshold:.3f}",
            str(r.pairs),
            str(r.failed),
        )
    out.print(table)


def _print_identification(report: IdentificationReport, model: Contender) -> None:
    thresholds = model.thresholds
    out.print(f"[bold]{model.label}[/bold]")
    out.print(
        f"gallery: {report.people} people, {report.templates} templates; probes: {report.probes} "
        f"({report.probes_without_face} without a face); strangers: {report.unknown} "
        f"({report.unknown_without_face} without a face)",
        highlight=False,
    )
    columns = ["rule", "rank-1", *(f"DIR at FAR {far:g}" for far in REPORTED_FARS)]
    table = Table(*columns, title=f"open-set identification, {model.label}")
    for name, scored in report.rules.items():
        rates = [f"{scored.dir_at_far(far):.3f}" for far in REPORTED_FARS]
        table.add_row(name, f"{scored.rank1:.3f}", *rates)
    out.print(table)
    d = report.at_defaults
    out.print(
        f"{_whose(model)} ({_describe(thresholds)}): known probes named right {d.known_right:.3f}, "
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


def _print_identification_side_by_side(
    reports: list[tuple[Contender, IdentificationReport]],
) -> None:
    far_columns = [f"DIR at FAR {far:g}" for far in REPORTED_FARS]
    table = Table("embedder", "rank-1", *far_columns, "thresholds", "known named right")
    table.add_column("strangers named")
    table.title = "open-set identification, side by side (Facewatch's rule)"
    for model, report in reports:
        ours, d = report.rules["facewatch"], report.at_defaults
        table.add_row(
            model.label,
            f"{ours.rank1:.3f}",
            *(f"{ours.dir_at_far(far):.3f}" for far in REPORTED_FARS),
            f"{model.thresholds.match:g} / {model.thresholds.unknown:g}",
            f"{d.known_right:.3f}",
            f"{d.strangers_named:.3f}",
        )
    out.print(table)
    out.print(
        "DIR: known probes named right at the threshold naming that share (FAR) of strangers; "
        "the last three columns: the decision at each model's thresholds.",
        highlight=False,
    )


def _plot(reports: list[tuple[Contender, IdentificationReport]], plot: Path) -> None:
    first = reports[0][1]
    title = f"{first.probes} probes, {first.unknown} strangers"
    if len(reports) == 1:
        curves = first.rules
    else:
        curves = {f"{m.name}: {rule}": c for m, r in reports for rule, c in r.rules.items()}
    det_plot(curves, plot, title)
    err.print(f"DET plot written to {plot}", highlight=False)


def _identification_summary(model: Contender, report: IdentificationReport) -> dict[str, object]:
    t = model.thresholds
    thresholds = {
        "match": t.match,
        "unknown": t.unknown,
        "margin_weight": t.margin_weight,
        "margin_cap": t.margin_cap,
    }
    return {**_names(model), **report.summary(), "thresholds": thresholds}


def _whose(model: Contender) -> str:
    """Whose thresholds the decision ran at: the server's, or the model's own defaults."""
    return "server's settings" if model.configured else "the model's defaults"


def _describe(thresholds: Thresholds) -> str:
    fields: dict[str, Any] = {
        "match": thresholds.match,
        "unknown": thresholds.unknown,
        "margin weight": thresholds.margin_weight,
        "margin cap": thresholds.margin_cap,
    }
    return ", ".join(f"{k} {v:g}" for k, v in fields.items())
