"""The audit log page (admins): who did what, filtered, and its export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from facewatch.dashboard import audit_views
from facewatch.dashboard.auth import Administrator
from facewatch.dashboard.views import Pager
from facewatch.dashboard.web import DashboardRoute, render
from facewatch.server.deps import RuntimeDep
from facewatch.server.services import audit
from facewatch.server.services.audit import ExportFormat
from facewatch.store.repositories.audit import AuditFilter

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)
PAGE = 100
Text = Annotated[str | None, Query(max_length=200)]


def _filter(action: str | None, actor: str | None, target: str | None) -> AuditFilter:
    return AuditFilter(action=action or None, actor=actor or None, target=target or None)


@router.get("/audit")
def show_audit(
    request: Request,
    runtime: RuntimeDep,
    _: Administrator,
    action: Text = None,
    actor: Text = None,
    target: Text = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The newest entries first, filtered by action (or kind, ending in '.'), actor, target."""
    page = audit.list_entries(runtime, _filter(action, actor, target), offset, PAGE)
    args = {"action": action, "actor": actor, "target": target}
    context = {
        "entries": page.items,
        "pager": Pager(offset, PAGE, page.total),
        "args": args,
        "export_args": {**args, "format": "csv"},
        "target_link": audit_views.target_link,
        "details_summary": audit_views.details_summary,
        "details_text": audit_views.details_text,
    }
    return render(request, "audit.html", context)


@router.get("/audit/export")
def export_audit(
    runtime: RuntimeDep,
    _: Administrator,
    format: ExportFormat = ExportFormat.CSV,
    action: Text = None,
    actor: Text = None,
    target: Text = None,
) -> Response:
    """The filtered entries as a CSV or JSON Lines file (the export is audited)."""
    chunks = audit.export_entries(runtime, _filter(action, actor, target), format)
    media = "text/csv; charset=utf-8" if format is ExportFormat.CSV else "application/x-ndjson"
    disposition = f'attachment; filename="facewatch-audit.{format.value}"'
    return StreamingResponse(chunks, media_type=media, headers={"Content-Disposition": disposition})
