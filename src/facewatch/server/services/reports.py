"""Exports of detections and visits as CSV (streamed) or Parquet (needs pyarrow).

Both formats hold the same columns; times are UTC, ISO 8601 in CSV and timestamps in
Parquet. Parquet comes with the ``reports`` extra: ``pip install "facewatch[reports]"``.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select

from facewatch.errors import InvalidInput
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas_unknowns import VisitOut
from facewatch.server.services.csv_cells import spreadsheet_safe
from facewatch.server.services.visits import VisitQuery, visits
from facewatch.store.models import Detection, Person

logger = logging.getLogger(__name__)

ExportFormat = Literal["csv", "parquet"]
MAX_EXPORT_ROWS = 1_000_000
_BATCH = 5000

DETECTION_COLUMNS = (
    "id",
    "captured_at",
    "received_at",
    "camera_id",
    "status",
    "person_id",
    "name",
    "unknown_id",
    "distance",
    "confidence",
    "quality",
    "track_id",
    "latitude",
    "longitude",
)
VISIT_COLUMNS = (
    "person_id",
    "name",
    "unknown_id",
    "place",
    "arrival",
    "departure",
    "duration_seconds",
    "detections",
)
_TIMES = {"captured_at", "received_at", "arrival", "departure"}
_FLOATS = {"distance", "confidence", "quality", "latitude", "longitude", "duration_seconds"}
_INTS = {"id", "person_id", "detections"}


@dataclass(frozen=True, slots=True)
class Export:
    """An export ready to send: its chunks, content type and file name."""

    chunks: Iterator[bytes]
    media_type: str
    filename: str


@dataclass(frozen=True, slots=True)
class DetectionFilter:
    """Which detections an export holds."""

    since: datetime | None = None
    until: datetime | None = None
    camera_id: str | None = None
    person_id: int | None = None
    unknown_id: str | None = None


def export_detections(runtime: Runtime, fmt: ExportFormat, where: DetectionFilter) -> Export:
    """Detections matching ``where``, oldest first (at most ``MAX_EXPORT_ROWS``)."""
    rows = _detection_rows(runtime, where)
    return _export(rows, DETECTION_COLUMNS, fmt, "detections")


def export_visits(runtime: Runtime, fmt: ExportFormat, query: VisitQuery) -> Export:
    """Visits of the detections matching ``query``."""
    found = visits(runtime, query)
    return _export(_visit_rows(found), VISIT_COLUMNS, fmt, "visits")


def _export(
    rows: Iterator[dict[str, Any]], columns: Sequence[str], fmt: ExportFormat, name: str
) -> Export:
    if fmt == "csv":
        return Export(_csv(rows, columns), "text/csv; charset=utf-8", f"{name}.csv")
    if fmt == "parquet":
        data = _parquet(list(rows), columns)
        return Export(iter([data]), "application/vnd.apache.parquet", f"{name}.parquet")
    raise InvalidInput(f"unknown export format {fmt!r}: csv or parquet")


def _detection_rows(runtime: Runtime, where: DetectionFilter) -> Iterator[dict[str, Any]]:
    statement = (
        select(Detection, Person.name)
        .outerjoin(Person, Person.id == Detection.person_id)
        .order_by(Detection.captured_at, Detection.id)
        .limit(MAX_EXPORT_ROWS)
        .execution_options(yield_per=_BATCH)
    )
    if where.since is not None:
        statement = statement.where(Detection.captured_at >= where.since)
    if where.until is not None:
        statement = statement.where(Detection.captured_at < where.until)
    if where.camera_id is not None:
        statement = statement.where(Detection.camera_id == where.camera_id)
    if where.person_id is not None:
        statement = statement.where(Detection.person_id == where.person_id)
    if where.unknown_id is not None:
        statement = statement.where(Detection.unknown_id == where.unknown_id)
    with runtime.uow() as uow:
        for detection, name in uow.session.execute(statement):
            yield {
                **{c: getattr(detection, c) for c in DETECTION_COLUMNS if c != "name"},
                "name": name,
            }


def _visit_rows(found: Sequence[VisitOut]) -> Iterator[dict[str, Any]]:
    for visit in found:
        yield visit.model_dump()


def _csv(rows: Iterator[dict[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
        count += 1
        if buffer.tell() > 64_000:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")
    logger.info("CSV export: %s rows", count)


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else spreadsheet_safe(value)


def _parquet(rows: list[dict[str, Any]], columns: Sequence[str]) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidInput(
            'Parquet export needs pyarrow: pip install "facewatch[reports]" (or ask for csv)'
        ) from None
    schema = pa.schema([(c, _arrow_type(pa, c)) for c in columns])
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows], schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    logger.info("Parquet export: %s rows", len(rows))
    return sink.getvalue()


def _arrow_type(pa: Any, column: str) -> Any:
    if column in _TIMES:
        return pa.timestamp("us", tz="UTC")
    if column in _FLOATS:
        return pa.float64()
    if column in _INTS:
        return pa.int64()
    return pa.string()
