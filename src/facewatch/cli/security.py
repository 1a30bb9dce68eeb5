"""The security commands: ``config validate``, ``audit``, ``admin purge|rotate-key|new-key``,
``keys rotate`` and ``users set-role|set-password`` (registered by ``facewatch.cli``)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from facewatch.cli.common import (
    ConfigOption,
    DataDirOption,
    err,
    load_settings,
    opened,
    out,
    parse_duration,
    progress,
    read_password,
)
from facewatch.errors import InvalidInput
from facewatch.security import validation
from facewatch.security.crypto import new_master_key
from facewatch.server.services import api_keys

config_app = typer.Typer(help="Check the configuration before deploying.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log: list and export it.", no_args_is_help=True)


# --- config ----------------------------------------------------------------------------
@config_app.command("validate")
def config_validate(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Refuse default or weak secrets, a missing encryption key... (warn in development)."""
    settings = load_settings(data_dir, config)
    problems = validation.validate(settings)
    for problem in problems:
        colour = "red" if problem.level is validation.Level.ERROR else "yellow"
        err.print(f"[{colour}]{problem}[/{colour}]", highlight=False)
    if validation.has_errors(problems):
        raise typer.Exit(1)
    mode = " (development mode)" if settings.development_mode else ""
    out.print(f"configuration OK{mode}, {len(problems)} warning(s)", highlight=False)


# --- audit -----------------------------------------------------------------------------
@audit_app.command("list")
def audit_list(
    action: Annotated[
        str | None, typer.Option(metavar="ACTION", help="An action, or a kind ending in '.'.")
    ] = None,
    actor: Annotated[
        str | None, typer.Option(metavar="ACTOR", help="key:<prefix>, user:<name>...")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=500, metavar="N", help="Most entries shown.")
    ] = 50,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The newest audit entries."""
    from facewatch.server.services import audit
    from facewatch.store.repositories.audit import AuditFilter

    with opened(data_dir, config) as runtime:
        page = audit.list_entries(runtime, AuditFilter(action=action, actor=actor), 0, limit)
    table = Table("time", "actor", "address", "action", "target", "outcome")
    for entry in page.items:
        when = f"{entry.occurred_at:%Y-%m-%d %H:%M:%S}"
        table.add_row(when, entry.actor, entry.address, entry.action, entry.target, entry.outcome)
    out.print(table)


@audit_app.command("export")
def audit_export(
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="csv or jsonl.")] = "csv",
    output: Annotated[
        Path | None, typer.Option(metavar="FILE", help="File to write (default: stdout).")
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the whole audit log, oldest first (the export is itself audited)."""
    from facewatch.server.services import audit
    from facewatch.store.repositories.audit import AuditFilter

    try:
        chosen = audit.ExportFormat(fmt.lower())
    except ValueError:
        raise InvalidInput(f"unknown format {fmt!r}; choose csv or jsonl") from None
    with opened(data_dir, config) as runtime:
        chunks = audit.export_entries(runtime, AuditFilter(), chosen)
        if output is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            return
        with output.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)


# --- admin, keys, users ----------------------------------------------------------------
def admin_purge(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Delete now what outlived its retention limit, and say how much."""
    from facewatch.server.services.retention import purge

    with opened(data_dir, config) as runtime:
        report = purge(runtime)
    for name, count in report.as_dict().items():
        out.print(f"{name.replace('_', ' ')}: {count}", highlight=False)


def admin_rotate_key(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Re-encrypt every embedding and image with encryption_key (old keys in
    encryption_old_keys); also encrypts what was stored in clear."""
    from facewatch.server.services.encryption import rotate_key

    with opened(data_dir, config) as runtime, progress() as bar:
        task = bar.add_task("re-encrypting", total=None)

        def told(what: str, done: int) -> None:
            bar.update(task, description=f"re-encrypting {what}", completed=done)

        report = rotate_key(runtime, told)
    out.print(
        f"key {report.key_id}: {report.embeddings} embeddings and {report.blobs} images "
        f"re-encrypted, {report.unchanged} already current; remove the old keys now",
        highlight=False,
    )


def admin_new_key() -> None:
    """Print a new random encryption key (for FACEWATCH_ENCRYPTION_KEY); keep it safe."""
    sys.stdout.write(new_master_key() + "\n")


def keys_rotate(
    prefix: Annotated[
        str, typer.Argument(metavar="PREFIX", help="The key's prefix (see `keys list`).")
    ],
    grace: Annotated[
        str,
        typer.Option(
            metavar="DURATION", help="How long the old key keeps working (0: stops at once)."
        ),
    ] = "24h",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Replace a key by a new one (same name and scopes); only the new key goes to stdout."""
    overlap = parse_duration(grace)
    with opened(data_dir, config) as runtime:
        new, secret = api_keys.rotate_key(runtime, prefix, overlap)
    ends = "now" if overlap <= timedelta(0) else f"in {grace}"
    err.print(f"{prefix} stops working {ends}; the new key is {new.prefix}", highlight=False)
    sys.stdout.write(secret + "\n")


def users_set_role(
    name: Annotated[str, typer.Argument(metavar="USERNAME", help="The login name.")],
    role: Annotated[str, typer.Option("--role", metavar="ROLE", help="admin, operator or viewer.")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Change a user's role (applies to their open sessions at once)."""
    from facewatch.server.services import users

    parsed = users.parse_role(role)
    with opened(data_dir, config) as runtime:
        user = users.change_role(runtime, name, parsed)
    out.print(f"user {user.username} is now {user.role}", highlight=False)


def users_set_password(
    name: Annotated[str, typer.Argument(metavar="USERNAME", help="The login name.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Set a user's password; unlocks the account and ends their open sessions."""
    from facewatch.server.services import users

    password = read_password(password_stdin)
    with opened(data_dir, config) as runtime:
        users.change_password(runtime, name, password)
    out.print(f"password of {name} changed; their sessions ended", highlight=False)


def register(keys_app: typer.Typer, admin_app: typer.Typer, users_app: typer.Typer) -> None:
    """Add the security commands to the main CLI's groups."""
    admin_app.command("purge")(admin_purge)
    admin_app.command("rotate-key")(admin_rotate_key)
    admin_app.command("new-key")(admin_new_key)
    keys_app.command("rotate")(keys_rotate)
    users_app.command("set-role")(users_set_role)
    users_app.command("set-password")(users_set_password)
