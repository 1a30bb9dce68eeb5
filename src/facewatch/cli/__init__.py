"""The ``facewatch`` command: serve, people, identify, keys. Works on the data dir directly."""

from __future__ import annotations

import errno
import json
import logging
import shlex
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Column, Table

from facewatch.cli.common import (
    ConfigOption,
    DataDirOption,
    ImageFile,
    err,
    image_files,
    images_in,
    load_settings,
    opened,
    out,
    parse_duration,
    progress,
    read_password,
    setup_logging,
)
from facewatch.cli.security import audit_app, config_app
from facewatch.cli.security import register as register_security_commands
from facewatch.config import Settings
from facewatch.edge.cli import edge_app
from facewatch.errors import ConfigurationError, FacewatchError, InvalidInput
from facewatch.evaluation.cli import eval_app
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas import PersonCreate, PersonOut
from facewatch.server.security import parse_scopes
from facewatch.server.services import api_keys
from facewatch.server.services import models as model_service
from facewatch.server.services import people as people_service
from facewatch.server.services import users as users_service
from facewatch.server.services.enrollment import Upload, add_faces
from facewatch.server.services.recognition import recognize
from facewatch.store.data_lock import holding_data_dir
from facewatch.store.db import Database
from facewatch.store.models import utcnow
from facewatch.vision.image import load_image

app = typer.Typer(
    help="Facewatch: open-set face recognition for cameras and access control.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
people_app = typer.Typer(
    help="Enrol, list and remove people and their photos.", no_args_is_help=True
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
admin_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
models_app = typer.Typer(
    help="Face models: which one serves, re-embedding, dlib's ONNX conversion.",
    no_args_is_help=True,
)
users_app = typer.Typer(help="Dashboard users: create, list, remove.", no_args_is_help=True)
app.add_typer(people_app, name="people")
app.add_typer(keys_app, name="keys")
app.add_typer(admin_app, name="admin")
app.add_typer(models_app, name="models")
app.add_typer(users_app, name="users")
unknowns_app = typer.Typer(help="Strangers: list and re-cluster them.", no_args_is_help=True)
ingest_app = typer.Typer(help="Ingest snapshots that cameras upload.", no_args_is_help=True)
app.add_typer(unknowns_app, name="unknowns")
app.add_typer(ingest_app, name="ingest")
app.add_typer(edge_app, name="edge")
app.add_typer(eval_app, name="eval")
app.add_typer(config_app, name="config")
app.add_typer(audit_app, name="audit")
register_security_commands(keys_app, admin_app, users_app)

HOW_TO_ENROL = (
    "enrol people first with `facewatch people add NAME PHOTO...` "
    "or `facewatch people import FOLDER` (one subfolder of photos per person)"
)


def main() -> None:
    """Entry point: run the app, turning Facewatch errors into one-line messages."""
    try:
        app()
    except FacewatchError as exc:
        # soft_wrap: one line whatever the terminal width, so scripts can read it.
        err.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(1)


# --- serve -----------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(metavar="ADDRESS", help="Address to bind (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Port (default 8000).")] = None,
    compat_cloud_api: Annotated[
        bool,
        typer.Option(
            "--compat-cloud-api",
            help="Also serve the cloud-face-recognition REST API at the root, for its clients.",
        ),
    ] = False,
    compat_allow_anonymous: Annotated[
        bool,
        typer.Option(
            "--compat-allow-anonymous",
            help="RISK: let those compat routes work without an API key, as the old API did.",
        ),
    ] = False,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", metavar="PEM", help="PEM certificate chain: serve https."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", metavar="PEM", help="PEM private key of --tls-cert.")
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the REST server (OpenAPI docs at /docs); https with --tls-cert and --tls-key."""
    _setup_server_logging()
    settings = load_settings(
        data_dir,
        config,
        host=host,
        port=port,
        # An absent flag leaves the setting to the environment or the YAML file.
        compat_cloud_api=compat_cloud_api or None,
        compat_allow_anonymous=compat_allow_anonymous or None,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    check_port_free(settings.host, settings.port)  # before loading anything
    with holding_data_dir(settings, f"facewatch serve on {settings.host}:{settings.port}"):
        _serve(settings)


def _serve(settings: Settings) -> None:
    """Open storage to greet the operator, then run uvicorn until it stops."""
    import uvicorn

    from facewatch.server.app import create_app

    if settings.compat_allow_anonymous and not settings.compat_cloud_api:
        err.print(
            "[yellow]--compat-allow-anonymous has no effect without --compat-cloud-api.[/yellow]"
        )
    err.print(first_run_banner(settings), highlight=False, soft_wrap=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        **server_options(settings),
    )


def first_run_banner(settings: Settings) -> str:
    """What the operator needs to know before the first request: where the server is, which
    routes need an API key, and how to make the first key and dashboard user."""
    runtime = Runtime.open(settings)
    try:
        with runtime.uow() as uow:
            active_keys = uow.api_keys.count_active()
            users = uow.users.count()
    finally:
        runtime.close()
    scheme = "https" if settings.tls_cert else "http"
    base = f"{scheme}://{settings.host}:{settings.port}"
    where = escape(f"--data-dir {shlex.quote(str(settings.data_dir))}")
    lines = [
        f"Facewatch on {base}: dashboard {base}/, API docs {base}/docs",
        escape(f"data directory: {settings.data_dir}"),
        "The REST API (/api/v1/...) needs an API key, sent as 'Authorization: Bearer <key>' "
        "(or pasted under Authorize in /docs); /healthz, /readyz and /docs need none, and "
        + (
            "/metrics needs FACEWATCH_METRICS_TOKEN."
            if settings.metrics_token is not None
            else "/metrics is open (set FACEWATCH_METRICS_TOKEN to close it)."
        ),
    ]
    if settings.compat_cloud_api:
        lines.append(
            "The cloud-face-recognition routes at the root answer without a key "
            "(--compat-allow-anonymous)."
            if settings.compat_allow_anonymous
            else "The cloud-face-recognition routes at the root need a key too."
        )
    if active_keys == 0:
        lines += [
            "[yellow]No API key exists yet.[/yellow] Make the first admin key with:",
            f"    facewatch keys create --scope admin {where}",
        ]
    if users == 0:
        lines += [
            "[yellow]No dashboard user exists yet.[/yellow] Make one to log in with:",
            f"    facewatch users create NAME --role admin {where}",
        ]
    return "\n".join(lines)


TRUSTED_PROXIES: tuple[str, ...] = ()
"""Addresses of reverse proxies whose X-Forwarded-For is believed (to become the setting
``trusted_proxies``); empty: the client address is the connection's own."""


def check_port_free(host: str, port: int) -> None:
    """``ConfigurationError`` naming the address if nothing can listen on it now."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise ConfigurationError(f"cannot listen on {host}:{port}: {reason}") from None


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's TLS and timeout options for the settings (docs/security.md)."""
    options: dict[str, Any] = {
        # X-Forwarded-For is believed only from the proxies the operator names (none by
        # default): uvicorn's own default trusts 127.0.0.1, so anything on the box (or a
        # proxy on it that passes the header through) could choose its client address.
        "proxy_headers": bool(TRUSTED_PROXIES),
        "forwarded_allow_ips": ",".join(TRUSTED_PROXIES),
        "timeout_keep_alive": 5,  # idle keep-alive connections close after 5 s
        "timeout_graceful_shutdown": 15,  # drain requests in flight; SSE streams end then
        "h11_max_incomplete_event_size": 64 * 1024,  # request line and headers: 64 KiB
    }
    if settings.tls_cert is not None and settings.tls_key is not None:
        options |= {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    return options


def _setup_server_logging() -> None:
    """Plain log lines for the server: Rich lays out each line as a table (about 1 ms), which
    at hundreds of requests a second took a third of the server's CPU."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# --- people ----------------------------------------------------------------------------
@people_app.command("add")
def people_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The person's name.")],
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PHOTO_OR_FOLDER", help="Photos, or folders of photos (none: add later)."
        ),
    ] = None,
    category: Annotated[
        str, typer.Option(metavar="CATEGORY", help="authorized, staff, watchlist...")
    ] = "authorized",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Enrol a person from photos (creates the person if new)."""
    files = [image.path for image in image_files(paths or [])]
    with opened(data_dir, config, exclusive=True) as runtime:
        _enrol(runtime, name, files, category)


@people_app.command("import")
def people_import(
    folder: Annotated[
        Path, typer.Argument(metavar="FOLDER", help="One subfolder of photos per person.")
    ],
    category: Annotated[
        str, typer.Option(metavar="CATEGORY", help="Category for new people.")
    ] = "authorized",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Enrol everyone in a folder: each subfolder is a person, named after the subfolder."""
    if not folder.is_dir():
        raise InvalidInput(f"not a folder: {folder}")
    people = sorted(p for p in folder.iterdir() if p.is_dir())
    if not people:
        raise InvalidInput(f"{folder} has no subfolders (one per person expected)")
    with opened(data_dir, config, exclusive=True) as runtime:
        for person_dir in people:
            _enrol(runtime, person_dir.name, images_in(person_dir), category)


def _enrol(runtime: Runtime, name: str, files: list[Path], category: str) -> None:
    person = people_service.find_person(runtime, name)
    if person is None:
        try:
            data = PersonCreate(name=name, category=category)
        except ValidationError as exc:
            raise InvalidInput(f"invalid name or category: {exc.errors()[0]['msg']}") from None
        person = people_service.create_person(runtime, data)
    accepted, refused = 0, []
    with progress() as bar:
        task = bar.add_task(f"enrolling {name}", total=len(files))
        for path in files:
            result = add_faces(runtime, person.id, [Upload(str(path), path.read_bytes())])
            accepted += len(result.accepted)
            refused += result.rejected
            bar.advance(task)
    out.print(f"{name}: {accepted} photo(s) enrolled, {len(refused)} refused", highlight=False)
    for rejection in refused:
        out.print(f"  refused {rejection.file}: {rejection.message}", highlight=False)


@people_app.command("list")
def people_list(
    query: Annotated[
        str | None, typer.Option("--search", metavar="TEXT", help="Part of the name.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines output.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List enrolled people."""
    with opened(data_dir, config) as runtime:
        page = people_service.list_people(runtime, query, None, 0, 1000)
    if as_json:
        for person in page.items:
            sys.stdout.write(person.model_dump_json() + "\n")
        return
    table = Table("id", "name", "category", "templates")
    for person in page.items:
        table.add_row(str(person.id), person.name, person.category, str(person.templates))
    out.print(table)


@people_app.command("remove")
def people_remove(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The person's exact name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete a person with every template, photo, detection and crop (asks first)."""
    with opened(data_dir, config, exclusive=True) as runtime:
        person = _person_named(runtime, name)
        if not yes:
            _confirm(
                f"Delete {name} (#{person.id}) with {person.templates} template(s) and every "
                "photo, detection and crop of them?"
            )
        people_service.delete_person(runtime, person.id)
    out.print(f"removed {name}", highlight=False)


@people_app.command("photos")
def people_photos(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The person's exact name.")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List a person's enrolment photos: template ids (for remove-photo), model, quality."""
    with opened(data_dir, config) as runtime:
        person = _person_named(runtime, name)
        faces = people_service.list_faces(runtime, person.id)
    table = Table("template", "model", "quality", "photo (sha256)", "enrolled")
    for face in faces:
        photo = face.image_sha256[:12] if face.image_sha256 else "-"
        when = f"{face.created_at:%Y-%m-%d %H:%M}"
        table.add_row(str(face.id), face.model, f"{face.quality:.2f}", photo, when)
    out.print(table)


@people_app.command("remove-photo")
def people_remove_photo(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The person's exact name.")],
    template_id: Annotated[
        int, typer.Argument(metavar="TEMPLATE_ID", help="A template id (see `people photos`).")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete one enrolment photo of a person (its templates of every model); asks first."""
    with opened(data_dir, config, exclusive=True) as runtime:
        person = _person_named(runtime, name)
        faces = {face.id: face for face in people_service.list_faces(runtime, person.id)}
        if template_id not in faces:
            raise InvalidInput(
                f"{name} has no template {template_id} (see `facewatch people photos {name}`)"
            )
        if not yes:
            photo = faces[template_id].image_sha256
            others = {f.image_sha256 or f.id for f in faces.values() if f.id != template_id}
            others.discard(photo or template_id)
            _confirm(
                f"Delete the enrolment photo of template {template_id} "
                f"({(photo or 'not stored')[:12]}) from {name}, who keeps "
                f"{len(others)} other photo(s)?"
            )
        removed = people_service.delete_face(runtime, person.id, template_id)
    ids = ", ".join(str(i) for i in removed)
    out.print(f"removed a photo of {name}: template(s) {ids}", highlight=False)


def _person_named(runtime: Runtime, name: str) -> PersonOut:
    person = people_service.find_person(runtime, name)
    if person is None:
        raise InvalidInput(f"no person named {name!r}")
    return person


def _confirm(question: str) -> None:
    """Ask on the terminal; anything but yes (or no terminal to ask on) stops the command."""
    if not typer.confirm(question, default=False, err=True):
        err.print("nothing deleted", highlight=False)
        raise typer.Exit(1)


# --- identify --------------------------------------------------------------------------
@app.command()
def identify(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="IMAGE_OR_FOLDER", help="Images, or folders of images."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines: one face per line.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Say who is in each image: a name, 'uncertain' (with a candidate) or 'unknown'."""
    files = image_files(paths)
    failures = 0
    found: list[tuple[ImageFile, list[dict[str, Any]]]] = []
    with opened(data_dir, config) as runtime:
        if len(runtime.gallery) == 0:
            raise InvalidInput(f"nobody is enrolled yet: {HOW_TO_ENROL}")
        with progress() as bar:
            task = bar.add_task("identifying", total=len(files))
            for image in files:
                try:
                    found.append((image, _identify_file(runtime, image.path)))
                except FacewatchError as exc:
                    failures += 1
                    err.print(f"[red]error:[/red] {image.path}: {exc.message}", highlight=False)
                bar.advance(task)
    _print_faces(found, as_json)
    if failures:
        raise typer.Exit(1)


def _identify_file(runtime: Runtime, path: Path) -> list[dict[str, Any]]:
    settings = runtime.settings
    image = load_image(path, max_pixels=settings.max_image_pixels)
    found = recognize(image, *runtime.serving().parts, settings.top_k)
    return [
        {
            "file": str(path),
            "box": r.face.box.as_list(),
            "status": r.match.status.value,
            "name": r.match.name,
            "person_id": r.match.person_id,
            "distance": None if r.match.distance is None else round(r.match.distance, 4),
        }
        for r in found
    ]


def _print_faces(found: list[tuple[ImageFile, list[dict[str, Any]]]], as_json: bool) -> None:
    if as_json:
        for _, rows in found:
            for row in rows:
                sys.stdout.write(json.dumps(row) + "\n")
        return
    # Named as given (relative to its folder), folded rather than cut to "../shared/te…".
    table = Table(Column("file", overflow="fold"), "box", "who", "distance")
    for image, rows in found:
        if not rows:
            table.add_row(image.label, "-", "no face found", "-")
        for row in rows:
            table.add_row(image.label, str(row["box"]), _who(row), _distance(row))
    out.print(table)


def _who(row: dict[str, Any]) -> str:
    if row["status"] == "uncertain":
        return f"uncertain ({row['name']}?)"
    return str(row["name"]) if row["status"] == "known" else "unknown"


def _distance(row: dict[str, Any]) -> str:
    return "-" if row["distance"] is None else f"{row['distance']:.3f}"


# --- keys ------------------------------------------------------------------------------
@keys_app.command("create")
def keys_create(
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope", metavar="SCOPE", help="admin, enroll, ingest, read, gallery (repeatable)."
        ),
    ],
    name: Annotated[
        str, typer.Option(metavar="TEXT", help="What the key is for (e.g. 'gate camera').")
    ] = "",
    expires_in: Annotated[
        str | None,
        typer.Option(
            "--expires-in", metavar="DURATION", help="Lifetime: 90d, 12h, 1w (default: none)."
        ),
    ] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Make an API key; only the key is printed on stdout, once: keep it safe."""
    scopes = parse_scopes(s for value in scope for s in value.split(","))
    expires_at = utcnow() + parse_duration(expires_in) if expires_in else None
    with opened(data_dir, config) as runtime:
        _, secret = api_keys.create_key(
            runtime, name, [s.value for s in scopes], expires_at=expires_at
        )
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
def keys_list(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List API keys (never their secrets)."""
    table = Table("prefix", "name", "scopes", "created", "last used", "revoked", "expires")
    with opened(data_dir, config) as runtime:
        for key in api_keys.list_keys(runtime):
            table.add_row(
                key.prefix,
                key.name,
                ",".join(key.scopes),
                f"{key.created_at:%Y-%m-%d %H:%M}",
                f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
                f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "-",
                f"{key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "-",
            )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[
        str, typer.Argument(metavar="PREFIX", help="The key's prefix (see `keys list`).")
    ],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke an API key at once."""
    with opened(data_dir, config) as runtime:
        api_keys.revoke_key(runtime, prefix)
    out.print(f"revoked {prefix}", highlight=False)


# --- users -----------------------------------------------------------------------------
@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(metavar="USERNAME", help="The login name.")],
    role: Annotated[str, typer.Option("--role", metavar="ROLE", help="admin, operator or viewer.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Make a dashboard user (the password is asked for twice unless --password-stdin)."""
    parsed_role = users_service.parse_role(role)
    password = read_password(password_stdin)
    with opened(data_dir, config) as runtime:
        user = users_service.create_user(runtime, name, parsed_role, password)
    out.print(f"created user {user.username} ({user.role})", highlight=False)


@users_app.command("list")
def users_list(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List dashboard users (never their password hashes)."""
    table = Table("username", "role", "created", "last login", "locked until")
    with opened(data_dir, config) as runtime:
        for user in users_service.list_users(runtime):
            table.add_row(
                user.username,
                user.role,
                f"{user.created_at:%Y-%m-%d %H:%M}",
                f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "-",
                f"{user.locked_until:%Y-%m-%d %H:%M}" if user.locked_until else "-",
            )
    out.print(table)


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(metavar="USERNAME", help="The login name.")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete a dashboard user; their open sessions end at once."""
    with opened(data_dir, config) as runtime:
        users_service.remove_user(runtime, name)
    out.print(f"removed user {name}", highlight=False)


# --- models ----------------------------------------------------------------------------
@models_app.command("convert")
def models_convert(
    force: Annotated[
        bool, typer.Option("--force", help="Convert again even when a conversion is cached.")
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Convert dlib's face models to ONNX now (else done on first use) and print where."""
    from facewatch.vision.convert import CONVERTIBLE_MODELS, ensure_converted

    settings = load_settings(data_dir, config)
    for model in CONVERTIBLE_MODELS:
        path = ensure_converted(model, cache_dir=settings.model_cache_dir, rebuild=force)
        sys.stdout.write(f"{model.name}: {path}\n")


@models_app.command("status")
def models_status(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Which embedding model serves, which is configured, and what a re-embed has left."""
    with opened(data_dir, config) as runtime:
        status = model_service.read_status(runtime)
    if as_json:
        sys.stdout.write(json.dumps(model_service.status_dict(status)) + "\n")
        return
    out.print(f"serving:    {status.serving}", highlight=False)
    out.print(f"configured: {status.configured}", highlight=False)
    for model, count in sorted(status.templates.items()):
        out.print(f"templates of {model}: {count}", highlight=False)
    if status.state == "current":
        out.print("up to date: the configured model serves", highlight=False)
        return
    out.print(
        f"re-embedding: {status.progress:.0%} done; {status.templates_left} photos and "
        f"{status.crops_left} crops left (run `facewatch models reembed`)",
        highlight=False,
    )
    for person in status.people_left_out + status.people_without_photo:
        out.print(f"  left out: {person.name} (#{person.person_id}): {person.reason}")


@models_app.command("reembed")
def models_reembed(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Embed every stored photo and crop with the configured model, then switch to it."""
    with opened(data_dir, config) as runtime:
        reembedder = model_service.Reembedder(runtime)
        model_service.record_target(runtime.uow, reembedder.target)
        if not reembedder.needed:
            out.print(f"nothing to do: {runtime.serving_model} serves already", highlight=False)
            return
        source = runtime.serving_model
        with progress() as bar:
            task = bar.add_task(f"re-embedding {source} -> {reembedder.target}", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = reembedder.run(progress=advance)
        status = model_service.read_status(runtime)
    out.print(
        f"{report.templates} photos and {report.crops} crops embedded by {reembedder.target} "
        f"in {report.seconds:.1f} s; {report.failed_templates} photos without a usable face, "
        f"{report.skipped_crops} crops without one",
        highlight=False,
    )
    for person in status.people_left_out + status.people_without_photo:
        out.print(f"  left out: {person.name} (#{person.person_id}): {person.reason}")
    if report.switched:
        out.print(f"now serving {reembedder.target}", highlight=False)


# --- admin -----------------------------------------------------------------------------
@admin_app.command("migrate")
def admin_migrate(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Upgrade the database schema to this version of Facewatch (back it up first)."""
    settings = load_settings(data_dir, config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with holding_data_dir(settings, "facewatch admin migrate"):
        db = Database(settings.resolved_database_url)
        try:
            status = db.migrate()
        finally:
            db.dispose()
    out.print(f"database {db.safe_url}: {status.describe()}", highlight=False)


@admin_app.command("status")
def admin_status(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Show the database schema version and whether it needs an upgrade."""
    settings = load_settings(data_dir, config)
    db = Database(settings.resolved_database_url)
    try:
        status = db.schema_status()
    finally:
        db.dispose()
    out.print(f"database {db.safe_url}: {status.describe()}", highlight=False)


# --- strangers and watched folders -----------------------------------------------------
@unknowns_app.command("list")
def unknowns_list(
    limit: Annotated[
        int, typer.Option(min=1, max=500, metavar="N", help="Most strangers shown.")
    ] = 50,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """List strangers (unknown identities), last seen first."""
    from facewatch.server.services.unknowns import list_unknowns

    with opened(data_dir, config) as runtime:
        page = list_unknowns(runtime, limit=limit)
    table = Table("id", "faces", "first seen", "last seen", "cameras")
    for item in page.items:
        first = item.first_seen.isoformat() if item.first_seen else ""
        last = item.last_seen.isoformat() if item.last_seen else ""
        table.add_row(item.id, str(item.detections), first, last, ", ".join(item.cameras))
    out.print(table)
    out.print(f"{page.total} strangers")


@unknowns_app.command("recluster")
def unknowns_recluster(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Re-cluster the strangers now (the server also does it every hour)."""
    from facewatch.server.services.unknowns import recluster

    with opened(data_dir, config, exclusive=True) as runtime:
        report = recluster(runtime)
    out.print(
        f"{report.faces} faces: {report.identities_before} -> {report.identities_after} "
        f"strangers ({report.merged} merged, {report.split} split, {report.created} new, "
        f"{report.faces_moved} faces moved) in {report.seconds:.1f} s",
        highlight=False,
    )


@ingest_app.command("watch")
def ingest_watch(
    folder: Annotated[
        Path, typer.Argument(metavar="FOLDER", help="Folder the cameras drop images into.")
    ],
    camera: Annotated[
        str | None,
        typer.Option(
            metavar="CAMERA_ID", help="Camera of files directly in the folder (default: its name)."
        ),
    ] = None,
    poll: Annotated[
        float, typer.Option(min=0.1, metavar="SECONDS", help="Seconds between two scans.")
    ] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Ingest what is there, then stop.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Ingest each new image of a folder as it lands (a sub-folder per camera)."""
    import threading
    import time

    from facewatch.server.services.watch_folder import FolderWatcher, WatchResult

    def show(result: WatchResult) -> None:
        if result.error:
            err.print(f"{result.path}: {result.error}", markup=False, highlight=False)
            return
        strangers = f", strangers {', '.join(result.unknown_ids)}" if result.unknown_ids else ""
        note = " (seen before)" if result.replayed else ""
        line = f"{result.path} [{result.camera_id}]: {result.faces} faces{strangers}{note}"
        out.print(line, markup=False, highlight=False)

    setup_logging()
    with opened(data_dir, config, exclusive=True) as runtime:
        watcher = FolderWatcher(runtime, folder, camera)
        if once:
            watcher.scan_once()  # a file is read once it stays the same between two scans
            time.sleep(poll)
            for result in watcher.scan_once():
                show(result)
            return
        stop = threading.Event()
        err.print(f"watching {folder} (Ctrl-C stops)")
        try:
            watcher.run(stop, poll, show)
        except KeyboardInterrupt:
            stop.set()
