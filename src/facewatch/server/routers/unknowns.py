"""Unknown identities (strangers): list, read, name, merge, split, mark "not X", delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from facewatch.server.deps import AdminKey, EnrollKey, ReadKey, RuntimeDep
from facewatch.server.routers.people import ERRORS
from facewatch.server.schemas import Page
from facewatch.server.schemas_unknowns import (
    MergeUnknowns,
    NamedOut,
    NameUnknown,
    NotRule,
    NotRuleOut,
    ReclusterOut,
    SplitUnknown,
    UnknownDetail,
    UnknownOut,
)
from facewatch.server.services import unknowns

router = APIRouter(prefix="/api/v1/unknowns", tags=["unknowns"])

UnknownIdPath = Annotated[
    str, Path(min_length=1, max_length=64, description="An unknown identity: unknown-...")
]


@router.get("", response_model=Page[UnknownOut], responses=ERRORS)
def list_unknowns(
    runtime: RuntimeDep,
    _: ReadKey,
    since: Annotated[datetime | None, Query(description="Seen at or after (ISO 8601)")] = None,
    camera_id: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[UnknownOut]:
    """Strangers, last seen first: detections count, first and last seen, cameras."""
    return unknowns.list_unknowns(
        runtime,
        since=_utc(since) if since else None,
        camera_id=camera_id,
        offset=offset,
        limit=limit,
    )


@router.post("/recluster", response_model=ReclusterOut, responses=ERRORS)
def recluster_unknowns(runtime: RuntimeDep, _: AdminKey) -> ReclusterOut:
    """Re-cluster the strangers now (merges and splits; ids persist where they can)."""
    return unknowns.recluster(runtime)


@router.post("/detections/{detection_id}/not", response_model=NotRuleOut, responses=ERRORS)
def mark_detection_not(
    detection_id: int, body: NotRule, runtime: RuntimeDep, _: EnrollKey
) -> NotRuleOut:
    """Mark a face as not this person or stranger: it leaves them, and never joins again."""
    return unknowns.mark_detection_not(runtime, detection_id, body)


@router.get("/{unknown_id}", response_model=UnknownDetail, responses=ERRORS)
def get_unknown(unknown_id: UnknownIdPath, runtime: RuntimeDep, _: ReadKey) -> UnknownDetail:
    """One stranger with their latest faces."""
    return unknowns.get_unknown(runtime, unknown_id)


@router.post(
    "/{unknown_id}/name",
    status_code=status.HTTP_201_CREATED,
    response_model=NamedOut,
    responses=ERRORS,
)
def name_unknown(
    unknown_id: UnknownIdPath, body: NameUnknown, runtime: RuntimeDep, _: EnrollKey
) -> NamedOut:
    """Turn a stranger into a person (new or enrolled); their best faces become templates."""
    return unknowns.name_unknown(runtime, unknown_id, body)


@router.post("/{unknown_id}/merge", response_model=UnknownOut, responses=ERRORS)
def merge_unknowns(
    unknown_id: UnknownIdPath, body: MergeUnknowns, runtime: RuntimeDep, _: EnrollKey
) -> UnknownOut:
    """Merge another stranger into this one (the other id goes)."""
    return unknowns.merge_unknowns(runtime, unknown_id, body.other_id)


@router.post(
    "/{unknown_id}/split",
    status_code=status.HTTP_201_CREATED,
    response_model=UnknownOut,
    responses=ERRORS,
)
def split_unknown(
    unknown_id: UnknownIdPath, body: SplitUnknown, runtime: RuntimeDep, _: EnrollKey
) -> UnknownOut:
    """Move some faces of a stranger to a new stranger (returned), kept apart from now on."""
    return unknowns.split_unknown(runtime, unknown_id, body.detection_ids)


@router.post("/{unknown_id}/not", response_model=NotRuleOut, responses=ERRORS)
def mark_unknown_not(
    unknown_id: UnknownIdPath, body: NotRule, runtime: RuntimeDep, _: EnrollKey
) -> NotRuleOut:
    """Mark a stranger as not this person (never named them) or not that stranger."""
    return unknowns.mark_unknown_not(runtime, unknown_id, body)


@router.delete("/{unknown_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_unknown(unknown_id: UnknownIdPath, runtime: RuntimeDep, _: EnrollKey) -> Response:
    """Forget a stranger with every detection and crop of them."""
    unknowns.delete_unknown(runtime, unknown_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
