"""The audit log, for admins: list with filters, export as CSV or JSON Lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from facewatch.errors import InvalidInput
from facewatch.server.deps import AdminKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import Page
from facewatch.server.services import audit
from facewatch.server.services.audit import AuditOut, ExportFormat
from facewatch.store.repositories.audit import AuditFilter

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

Text = Annotated[str | None, Query(max_length=200)]
Outcome = Annotated[str | None, Query(pattern="^(ok|denied|failed)$")]
Since = Annotated[datetime | None, Query(description="ISO 8601, inclusive")]
Until = Annotated[datetime | None, Query(description="ISO 8601, exclusive")]
MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSONL: "application/x-ndjson",
}
EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERRORS,
    200: {"content": {"text/csv": {}, "application/x-ndjson": {}}, "description": "The file"},
}


def audit_filter(
    action: Text = None,
    actor: Text = None,
    target: Text = None,
    outcome: Outcome = None,
    since: Since = None,
    until: Until = None,
) -> AuditFilter:
    """The filters of a request (``action`` ending in a dot matches a whole kind)."""
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since")
    return AuditFilter(action, actor, target, outcome, since, until)


@router.get("", response_model=Page[AuditOut], responses=ERRORS)
def list_audit(
    runtime: RuntimeDep,
    _: AdminKey,
    action: Text = None,
    actor: Text = None,
    target: Text = None,
    outcome: Outcome = None,
    since: Since = None,
    until: Until = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[AuditOut]:
    """Audit entries, newest first: who did what, to what, from where, when."""
    where = audit_filter(action, actor, target, outcome, since, until)
    return audit.list_entries(runtime, where, offset, limit)


@router.get("/export", response_class=StreamingResponse, responses=EXPORT_RESPONSES)
def export_audit(
    runtime: RuntimeDep,
    _: AdminKey,
    format: ExportFormat = ExportFormat.CSV,
    action: Text = None,
    actor: Text = None,
    target: Text = None,
    outcome: Outcome = None,
    since: Since = None,
    until: Until = None,
) -> StreamingResponse:
    """The audit entries matching the filters, oldest first, as a file (the export is audited)."""
    where = audit_filter(action, actor, target, outcome, since, until)
    chunks = audit.export_entries(runtime, where, format)
    name = f"facewatch-audit.{format.value}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[format], headers=headers)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
