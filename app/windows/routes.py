"""Operator endpoints for the delivery windows of the operator's city (another city's ids
answer 404). Closing a window at its cut-off lives with the group buys."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import CurrentOperator
from app.cities import queries as city_queries
from app.cities import service as city_service
from app.core.db import SessionDep
from app.core.pagination import Page
from app.windows import schedule
from app.windows import service as window_service
from app.windows.models import DeliveryWindow
from app.windows.schemas import (
    GenerateResult,
    WindowGenerate,
    WindowQuery,
    WindowRead,
    WindowUpdate,
)

router = APIRouter(prefix="/windows", tags=["operator"])


@router.post("/generate", summary="Generate windows from the city's schedule (idempotent)")
def generate_windows(
    db: SessionDep, operator: CurrentOperator, generate_in: WindowGenerate
) -> GenerateResult:
    city = city_service.get_required(db_session=db, city_id=operator.city_id)
    start = generate_in.start or schedule.local_today(city_service.zone(city))
    created = window_service.generate(
        db_session=db, city_id=city.id, start=start, days=generate_in.days
    )
    planned = len(city.window_slots) * generate_in.days
    db.commit()
    return GenerateResult(
        created=[WindowRead.from_window(w, city.timezone) for w in created],
        skipped=planned - len(created),
    )


@router.get("", summary="List my city's delivery windows")
def list_windows(
    db: SessionDep, operator: CurrentOperator, params: Annotated[WindowQuery, Query()]
) -> Page[WindowRead]:
    items, total = window_service.get_all(
        db_session=db,
        city_id=operator.city_id,
        local_date=params.date,
        date_from=params.date_from,
        date_to=params.date_to,
        status=params.status,
        limit=params.limit,
        offset=params.offset,
    )
    return Page[WindowRead](
        items=_read(db, items), total=total, limit=params.limit, offset=params.offset
    )


@router.get("/{window_id}", summary="Get a delivery window")
def get_window(db: SessionDep, operator: CurrentOperator, window_id: int) -> WindowRead:
    window = window_service.get_required(
        db_session=db, window_id=window_id, city_id=operator.city_id
    )
    return _read(db, [window])[0]


@router.patch(
    "/{window_id}",
    summary="Move an open window's cut-off, ready-by or pickup deadline",
    responses={409: {"description": "The window is no longer open"}},
)
def update_window(
    db: SessionDep, operator: CurrentOperator, window_id: int, window_in: WindowUpdate
) -> WindowRead:
    window = window_service.get_required(
        db_session=db, window_id=window_id, city_id=operator.city_id, for_update=True
    )
    window = window_service.update(db_session=db, window=window, window_in=window_in)
    db.commit()
    return _read(db, [window])[0]


def _read(db: SessionDep, windows: list[DeliveryWindow]) -> list[WindowRead]:
    zones = city_queries.city_timezones(db, {w.city_id for w in windows})
    return [WindowRead.from_window(w, zones[w.city_id]) for w in windows]
