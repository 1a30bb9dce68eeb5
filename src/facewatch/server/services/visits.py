"""Visits and movement: detections grouped into stays, trails across cameras, headcounts.

A **visit** is a run of sightings of one identity (a person, or a stranger's unknown id) at
one place (a camera, or the zone of the camera) with no gap longer than
``visit_gap_seconds``: its arrival is the first sighting, its departure the last. A
**trail** is an identity's visits at cameras, in time order. **Presence** counts distinct
identities per camera per hour or day; the **summary** feeds the charts.

``group_visits`` is pure; the rest reads sightings from the database in time order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, select

from facewatch.errors import InvalidInput, NotFound
from facewatch.server.infra.runtime import Runtime
from facewatch.server.schemas_unknowns import (
    CameraSummary,
    LocationOut,
    PeriodSummary,
    PresenceOut,
    SummaryOut,
    Totals,
    TrailStop,
    VisitOut,
)
from facewatch.store.models import Camera, Detection, Person
from facewatch.store.unit_of_work import UnitOfWork
from facewatch.types import MatchStatus

GroupBy = Literal["camera", "zone"]
Period = Literal["hour", "day"]
_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Sighting:
    """One detection as visits need it."""

    captured_at: datetime
    place: str
    person_id: int | None = None
    unknown_id: str | None = None

    @property
    def identity(self) -> tuple[int | None, str | None]:
        return (self.person_id, None) if self.person_id is not None else (None, self.unknown_id)


@dataclass(slots=True)
class Visit:
    """Sightings of one identity at one place without a long gap."""

    person_id: int | None
    unknown_id: str | None
    place: str
    arrival: datetime
    departure: datetime
    detections: int = 1

    @property
    def duration(self) -> timedelta:
        return self.departure - self.arrival


def group_visits(sightings: Iterable[Sighting], gap: timedelta) -> list[Visit]:
    """Visits of every identity at every place, by arrival; sightings of no identity are
    left out. A gap longer than ``gap`` between two sightings starts a new visit."""
    open_visits: dict[tuple[tuple[int | None, str | None], str], Visit] = {}
    done: list[Visit] = []
    for sighting in sorted(sightings, key=lambda s: s.captured_at):
        if sighting.person_id is None and sighting.unknown_id is None:
            continue
        key = (sighting.identity, sighting.place)
        visit = open_visits.get(key)
        if visit is not None and sighting.captured_at - visit.departure <= gap:
            visit.departure = sighting.captured_at
            visit.detections += 1
            continue
        if visit is not None:
            done.append(visit)
        person_id, unknown_id = sighting.identity
        open_visits[key] = Visit(
            person_id, unknown_id, sighting.place, sighting.captured_at, sighting.captured_at
        )
    done += open_visits.values()
    return sorted(done, key=lambda v: (v.arrival, v.place, v.person_id or 0, v.unknown_id or ""))


# --- reading sightings ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VisitQuery:
    """Which sightings make the visits, and how they are grouped."""

    person_id: int | None = None
    unknown_id: str | None = None
    camera_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    group_by: GroupBy = "camera"
    gap_seconds: float | None = None
    """Default: ``visit_gap_seconds``."""
    limit: int = 1000


def visits(runtime: Runtime, query: VisitQuery) -> list[VisitOut]:
    """The visits of the sightings matching ``query`` (at most ``limit``, by arrival)."""
    gap = timedelta(seconds=query.gap_seconds or runtime.settings.visit_gap_seconds)
    with runtime.uow() as uow:
        found = group_visits(_sightings(uow, query), gap)[: query.limit]
        names = _names(uow, {v.person_id for v in found if v.person_id is not None})
    return [_visit_out(visit, names) for visit in found]


def _visit_out(visit: Visit, names: dict[int, str]) -> VisitOut:
    return VisitOut(
        person_id=visit.person_id,
        name=names.get(visit.person_id) if visit.person_id is not None else None,
        unknown_id=visit.unknown_id,
        place=visit.place,
        arrival=visit.arrival,
        departure=visit.departure,
        duration_seconds=visit.duration.total_seconds(),
        detections=visit.detections,
    )


def trail(
    runtime: Runtime,
    person_id: int | None,
    unknown_id: str | None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[TrailStop]:
    """An identity's visits at cameras in time order, with where each camera stands."""
    _one_identity(person_id, unknown_id)
    query = VisitQuery(person_id=person_id, unknown_id=unknown_id, since=since, until=until)
    stops = visits(runtime, query)
    with runtime.uow() as uow:
        cameras = {c.id: c for c in _cameras(uow, {s.place for s in stops})}
    return [_stop(stop, cameras.get(stop.place)) for stop in stops]


def _stop(visit: VisitOut, camera: Camera | None) -> TrailStop:
    return TrailStop(
        **visit.model_dump(),
        camera_name=camera.name if camera else None,
        site=camera.site if camera else None,
        zone=camera.zone if camera else None,
        location=camera.location if camera else None,
        latitude=camera.latitude if camera else None,
        longitude=camera.longitude if camera else None,
    )


def last_location(runtime: Runtime, person_id: int | None, unknown_id: str | None) -> LocationOut:
    """Where and when an identity was last seen; ``NotFound`` if never."""
    _one_identity(person_id, unknown_id)
    with runtime.uow() as uow:
        statement = select(Detection).where(_identity_is(person_id, unknown_id))
        row = uow.session.scalar(
            statement.order_by(Detection.captured_at.desc(), Detection.id.desc()).limit(1)
        )
        if row is None:
            raise NotFound("this identity has not been seen")
        camera = row.camera
        return LocationOut(
            person_id=person_id,
            unknown_id=unknown_id,
            detection_id=row.id,
            captured_at=row.captured_at,
            camera_id=row.camera_id,
            camera_name=camera.name if camera else None,
            site=camera.site if camera else None,
            zone=camera.zone if camera else None,
            location=camera.location if camera else None,
            latitude=row.latitude if row.latitude is not None else _camera_lat(camera),
            longitude=row.longitude if row.longitude is not None else _camera_lon(camera),
        )


def _camera_lat(camera: Camera | None) -> float | None:
    return camera.latitude if camera else None


def _camera_lon(camera: Camera | None) -> float | None:
    return camera.longitude if camera else None


# --- presence -------------------------------------------------------------------------
@dataclass(slots=True)
class _Tally:
    people: set[int] = field(default_factory=set)
    strangers: set[str] = field(default_factory=set)
    detections: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    def count(self, row: _Row) -> None:
        self.detections += 1
        self.statuses[row.status] += 1
        if row.person_id is not None:
            self.people.add(row.person_id)
        elif row.unknown_id is not None:
            self.strangers.add(row.unknown_id)


def presence(
    runtime: Runtime,
    period: Period,
    since: datetime | None = None,
    until: datetime | None = None,
    camera_id: str | None = None,
) -> list[PresenceOut]:
    """Distinct people and strangers per camera per hour (or day, UTC), by time then camera."""
    tallies: dict[tuple[str | None, datetime], _Tally] = {}
    with runtime.uow() as uow:
        query = VisitQuery(camera_id=camera_id, since=since, until=until)
        for row in _rows(uow, query):
            tally = tallies.setdefault((row.camera_id, _bucket(row.captured_at, period)), _Tally())
            tally.count(row)
    return [
        PresenceOut(
            camera_id=camera,
            period_start=start,
            unique_people=len(t.people),
            unique_strangers=len(t.strangers),
            detections=t.detections,
        )
        for (camera, start), t in sorted(tallies.items(), key=lambda i: (i[0][1], i[0][0] or ""))
    ]


def summary(
    runtime: Runtime,
    period: Period,
    since: datetime | None = None,
    until: datetime | None = None,
    camera_id: str | None = None,
) -> SummaryOut:
    """What the charts show: detections (known, unknown, uncertain) and unique visitors per
    hour or day, every camera's totals, busiest first, and the totals of the whole range."""
    periods: dict[datetime, _Tally] = {}
    cameras: dict[str | None, _Tally] = {}
    overall = _Tally()
    with runtime.uow() as uow:
        for row in _rows(uow, VisitQuery(camera_id=camera_id, since=since, until=until)):
            periods.setdefault(_bucket(row.captured_at, period), _Tally()).count(row)
            cameras.setdefault(row.camera_id, _Tally()).count(row)
            overall.count(row)
    return SummaryOut(
        period=period,
        totals=Totals(**_totals(overall)),
        periods=[
            PeriodSummary(period_start=start, **_totals(tally))
            for start, tally in sorted(periods.items())
        ],
        cameras=[
            CameraSummary(camera_id=camera, **_totals(tally))
            for camera, tally in sorted(
                cameras.items(), key=lambda item: (-item[1].detections, item[0] or "")
            )
        ],
    )


def _totals(tally: _Tally) -> dict[str, int]:
    return {
        "detections": tally.detections,
        "known": tally.statuses[MatchStatus.KNOWN.value],
        "unknown": tally.statuses[MatchStatus.UNKNOWN.value],
        "uncertain": tally.statuses[MatchStatus.UNCERTAIN.value],
        "unique_people": len(tally.people),
        "unique_strangers": len(tally.strangers),
    }


def _bucket(moment: datetime, period: Period) -> datetime:
    moment = moment.astimezone(UTC)
    start = moment.replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if period == "day" else start


# --- helpers --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Row:
    captured_at: datetime
    camera_id: str | None
    zone: str | None
    person_id: int | None
    unknown_id: str | None
    status: str


def _sightings(uow: UnitOfWork, query: VisitQuery) -> Iterator[Sighting]:
    for row in _rows(uow, query):
        camera = row.camera_id or ""
        # a camera in no zone is a place of its own, not one big "no zone" place
        place = camera if query.group_by == "camera" else (row.zone or camera)
        yield Sighting(row.captured_at, place, row.person_id, row.unknown_id)


def _rows(uow: UnitOfWork, query: VisitQuery) -> Iterator[_Row]:
    statement = (
        select(
            Detection.captured_at,
            Detection.camera_id,
            Camera.zone,
            Detection.person_id,
            Detection.unknown_id,
            Detection.status,
        )
        .outerjoin(Camera, Camera.id == Detection.camera_id)
        .order_by(Detection.captured_at, Detection.id)
        .execution_options(yield_per=_BATCH)
    )
    if query.person_id is not None or query.unknown_id is not None:
        statement = statement.where(_identity_is(query.person_id, query.unknown_id))
    if query.camera_id is not None:
        statement = statement.where(Detection.camera_id == query.camera_id)
    if query.since is not None:
        statement = statement.where(Detection.captured_at >= query.since)
    if query.until is not None:
        statement = statement.where(Detection.captured_at < query.until)
    for captured_at, camera_id, zone, person_id, unknown_id, status in uow.session.execute(
        statement
    ):
        yield _Row(_aware(captured_at), camera_id, zone, person_id, unknown_id, status)


def _identity_is(person_id: int | None, unknown_id: str | None) -> ColumnElement[bool]:
    if person_id is not None:
        return Detection.person_id == person_id
    # a named stranger's detections carry the person now; the unknown id stays on them
    return Detection.unknown_id == unknown_id


def _one_identity(person_id: int | None, unknown_id: str | None) -> None:
    if (person_id is None) == (unknown_id is None):
        raise InvalidInput("give either person_id or unknown_id")


def _cameras(uow: UnitOfWork, camera_ids: set[str]) -> list[Camera]:
    if not camera_ids:
        return []
    return list(uow.session.scalars(select(Camera).where(Camera.id.in_(camera_ids))))


def _names(uow: UnitOfWork, person_ids: set[int]) -> dict[int, str]:
    if not person_ids:
        return {}
    rows = uow.session.execute(select(Person.id, Person.name).where(Person.id.in_(person_ids)))
    return {person_id: name for person_id, name in rows}


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
