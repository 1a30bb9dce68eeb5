"""The ``facewatch edge`` commands (mounted on the main CLI in ``facewatch.cli``)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from facewatch.edge.config import Mode, Policy, load_edge_config
from facewatch.errors import InvalidInput

edge_app = typer.Typer(help="The edge agent: cameras in, face crops out.", no_args_is_help=True)
err = Console(stderr=True)


@edge_app.command("run")
def run(
    source: Annotated[
        str | None,
        typer.Option(help="Webcam index, video file, rtsp:// or http(s):// URL, or image folder."),
    ] = None,
    camera_id: Annotated[
        str | None, typer.Option("--camera-id", help="Camera id for --source.")
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="Server base URL, e.g. http://host:8000.")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="FACEWATCH_EDGE_API_KEY",
            help="An API key with scope ingest (and gallery for --mode local).",
        ),
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Frames processed per second (6).")] = None,
    policy: Annotated[Policy | None, typer.Option(help="best (default) or every-frame.")] = None,
    mode: Annotated[
        Mode | None,
        typer.Option(help="crops (default), embeddings, or local (recognise on site)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="edge.yaml with cameras and settings.")
    ] = None,
    edge_id: Annotated[str | None, typer.Option("--edge-id", help="This agent's name.")] = None,
    outbox: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="Outbox SQLite file (default: edge-outbox.db in the data dir)."
        ),
    ] = None,
    drain_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for delivery when the files end (60)."),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(help="Write the processed frames with coloured face boxes to this .mp4."),
    ] = None,
    show: Annotated[
        bool, typer.Option("--show", help="Show the processed frames in a window.")
    ] = False,
    realtime: Annotated[
        bool,
        typer.Option(
            "--realtime", help="Play a video --source at its own frame rate, as a camera would."
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every step.")] = False,
) -> None:
    """Run the edge agent; with file sources it stops once they are processed and delivered."""
    from facewatch.edge.agent import EdgeAgent

    _setup_logging(logging.DEBUG if verbose else logging.INFO)
    overrides = _overrides(source, camera_id, server, api_key, fps, policy, mode, edge_id)
    if realtime:
        if "camera" not in overrides:
            raise InvalidInput("--realtime goes with --source (in edge.yaml: realtime: true)")
        overrides["camera"]["realtime"] = True
    overrides["drain_timeout"] = drain_timeout
    if outbox is not None:
        overrides["outbox"] = {"path": str(outbox)}
    overrides["record"] = None if record is None else str(record)
    overrides["show"] = show or None
    edge_config = load_edge_config(config, overrides)
    agent = EdgeAgent(edge_config)
    _stop_on_signals(agent.stop)
    summary = agent.run()
    for camera_id_, counts in summary.cameras.items():
        err.print(
            f"{camera_id_}: {counts.frames_processed} frames, {counts.tracks} tracks, "
            f"{counts.sent} sent ({counts.payload_bytes / 1024:.1f} KiB), "
            f"{counts.rejected} rejected"
            + (f", {counts.alerts} local alerts" if edge_config.mode == "local" else ""),
            highlight=False,
        )
    for failed_camera, reason in summary.failed.items():
        err.print(f"[red]error:[/red] camera {failed_camera}: {reason}", highlight=False)
    if summary.outbox_left:
        err.print(
            f"[yellow]{summary.outbox_left} items not delivered yet; they stay in "
            f"{edge_config.outbox.path} and go out on the next run.[/yellow]"
        )
        raise typer.Exit(1)
    if summary.failed:
        raise typer.Exit(1)


@edge_app.command("extract")
def extract_crops(
    video: Annotated[Path, typer.Argument(help="A video file.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the crops.")],
    fps: Annotated[float, typer.Option(help="Frames processed per second.")] = 6.0,
    policy: Annotated[Policy, typer.Option(help="best or every-frame.")] = "best",
) -> None:
    """Save the face crops the agent would send for a video to a folder (no server)."""
    from facewatch.edge.extract import ExtractSettings, extract

    _setup_logging(logging.WARNING)
    if fps <= 0:
        raise InvalidInput("--fps must be positive")
    written, counts = extract(video, out, ExtractSettings(fps=fps, policy=policy))
    err.print(
        f"{len(written)} crops of {counts.tracks} tracks from {counts.frames_processed} "
        f"frames in {out}",
        highlight=False,
    )


def _overrides(
    source: str | None,
    camera_id: str | None,
    server: str | None,
    api_key: str | None,
    fps: float | None,
    policy: str | None,
    mode: str | None,
    edge_id: str | None,
) -> dict[str, Any]:
    """Command-line values over the config file's; ``--source`` replaces its cameras."""
    overrides: dict[str, Any] = {
        "server": server,
        "api_key": api_key,
        "fps": fps,
        "policy": policy,
        "mode": mode,
        "edge_id": edge_id,
    }
    if (source is None) != (camera_id is None):
        raise InvalidInput("--source and --camera-id go together")
    if source is not None:
        overrides["camera"] = {"id": camera_id, "source": source}
    return overrides


def _stop_on_signals(stop: Any) -> None:
    """Ctrl-C or SIGTERM: stop reading cameras, deliver what is queued, then exit."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        err.print(f"{signal.Signals(signum).name}: stopping, delivering the outbox...")
        stop()

    signal.signal(signal.SIGINT, handler)
    if sys.platform != "win32":
        signal.signal(signal.SIGTERM, handler)


def _setup_logging(level: int) -> None:
    logging.basicConfig(
        level=level, format="%(message)s", handlers=[RichHandler(console=err, show_path=False)]
    )
    # One line per request is noise next to the agent's own metrics.
    logging.getLogger("httpx").setLevel(logging.WARNING)
