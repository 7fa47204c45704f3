"""Operator endpoints for cities, their depots and their daily window schedule.

Any operator may list cities and open a new one (with its depots and schedule in one call);
a city's settings, depots and schedule change only by the operators of that city."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth.deps import CurrentOperator
from app.cities import service as city_service
from app.cities.models import City
from app.cities.schemas import (
    CityCreate,
    CityDetail,
    CityQuery,
    CityRead,
    CityUpdate,
    DepotCreate,
    DepotRead,
    DepotUpdate,
    WindowSlotCreate,
    WindowSlotRead,
    WindowSlotUpdate,
)
from app.core.db import SessionDep
from app.core.pagination import Page, PageQuery

router = APIRouter(prefix="/cities", tags=["operator"])


@router.get("", summary="List cities")
def list_cities(
    db: SessionDep, _operator: CurrentOperator, params: Annotated[CityQuery, Query()]
) -> Page[CityRead]:
    items, total = city_service.get_all(
        db_session=db, q=params.q, limit=params.limit, offset=params.offset
    )
    return Page[CityRead](
        items=[CityRead.model_validate(c) for c in items],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Open a city, with its depots and daily window schedule",
    responses={409: {"description": "A city with this name exists"}},
)
def create_city(db: SessionDep, _operator: CurrentOperator, city_in: CityCreate) -> CityDetail:
    city = city_service.create(db_session=db, city_in=city_in)
    db.commit()
    return CityDetail.model_validate(city)


@router.get("/{city_id}", summary="Get a city with its depots and schedule")
def get_city(db: SessionDep, _operator: CurrentOperator, city_id: int) -> CityDetail:
    return CityDetail.model_validate(city_service.get_required(db_session=db, city_id=city_id))


@router.patch(
    "/{city_id}",
    summary="Change my city",
    responses={403: {"description": "Another city's operators run it"}},
)
def update_city(
    db: SessionDep, operator: CurrentOperator, city_id: int, city_in: CityUpdate
) -> CityRead:
    city = _own(db, operator, city_id)
    city = city_service.update(db_session=db, city=city, city_in=city_in)
    db.commit()
    return CityRead.model_validate(city)


@router.get("/{city_id}/depots", summary="List a city's depots")
def list_depots(
    db: SessionDep,
    operator: CurrentOperator,
    city_id: int,
    params: Annotated[PageQuery, Query()],
) -> Page[DepotRead]:
    _own(db, operator, city_id)
    items, total = city_service.get_all_depots(
        db_session=db, city_id=city_id, limit=params.limit, offset=params.offset
    )
    return Page[DepotRead](
        items=[DepotRead.model_validate(d) for d in items],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


@router.post(
    "/{city_id}/depots", status_code=status.HTTP_201_CREATED, summary="Add a depot to a city"
)
def create_depot(
    db: SessionDep, operator: CurrentOperator, city_id: int, depot_in: DepotCreate
) -> DepotRead:
    city = _own(db, operator, city_id)
    depot = city_service.create_depot(db_session=db, city=city, depot_in=depot_in)
    db.commit()
    return DepotRead.model_validate(depot)


@router.get("/{city_id}/depots/{depot_id}", summary="Get a depot")
def get_depot(db: SessionDep, operator: CurrentOperator, city_id: int, depot_id: int) -> DepotRead:
    _own(db, operator, city_id)
    depot = city_service.get_depot(db_session=db, city_id=city_id, depot_id=depot_id)
    return DepotRead.model_validate(depot)


@router.patch("/{city_id}/depots/{depot_id}", summary="Change a depot")
def update_depot(
    db: SessionDep,
    operator: CurrentOperator,
    city_id: int,
    depot_id: int,
    depot_in: DepotUpdate,
) -> DepotRead:
    _own(db, operator, city_id)
    depot = city_service.get_depot(db_session=db, city_id=city_id, depot_id=depot_id)
    depot = city_service.update_depot(db_session=db, depot=depot, depot_in=depot_in)
    db.commit()
    return DepotRead.model_validate(depot)


@router.delete(
    "/{city_id}/depots/{depot_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a depot nothing uses",
    responses={409: {"description": "Vans or routes still refer to the depot"}},
)
def delete_depot(
    db: SessionDep, operator: CurrentOperator, city_id: int, depot_id: int
) -> Response:
    _own(db, operator, city_id)
    depot = city_service.get_depot(db_session=db, city_id=city_id, depot_id=depot_id)
    city_service.delete_depot(db_session=db, depot=depot)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{city_id}/window-slots", summary="The city's daily delivery-window schedule")
def list_slots(db: SessionDep, operator: CurrentOperator, city_id: int) -> list[WindowSlotRead]:
    _own(db, operator, city_id)
    slots = city_service.get_all_slots(db_session=db, city_id=city_id)
    return [WindowSlotRead.model_validate(s) for s in slots]


@router.post(
    "/{city_id}/window-slots",
    status_code=status.HTTP_201_CREATED,
    summary="Add a daily delivery window to the schedule",
)
def create_slot(
    db: SessionDep, operator: CurrentOperator, city_id: int, slot_in: WindowSlotCreate
) -> WindowSlotRead:
    city = _own(db, operator, city_id)
    slot = city_service.create_slot(db_session=db, city=city, slot_in=slot_in)
    db.commit()
    return WindowSlotRead.model_validate(slot)


@router.get("/{city_id}/window-slots/{slot_id}", summary="Get a window slot")
def get_slot(
    db: SessionDep, operator: CurrentOperator, city_id: int, slot_id: int
) -> WindowSlotRead:
    _own(db, operator, city_id)
    slot = city_service.get_slot(db_session=db, city_id=city_id, slot_id=slot_id)
    return WindowSlotRead.model_validate(slot)


@router.patch(
    "/{city_id}/window-slots/{slot_id}",
    summary="Change a window slot (windows already generated keep their times)",
)
def update_slot(
    db: SessionDep,
    operator: CurrentOperator,
    city_id: int,
    slot_id: int,
    slot_in: WindowSlotUpdate,
) -> WindowSlotRead:
    _own(db, operator, city_id)
    slot = city_service.get_slot(db_session=db, city_id=city_id, slot_id=slot_id)
    slot = city_service.update_slot(db_session=db, slot=slot, slot_in=slot_in)
    db.commit()
    return WindowSlotRead.model_validate(slot)


@router.delete(
    "/{city_id}/window-slots/{slot_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a slot from the schedule (generated windows stay)",
)
def delete_slot(db: SessionDep, operator: CurrentOperator, city_id: int, slot_id: int) -> Response:
    _own(db, operator, city_id)
    slot = city_service.get_slot(db_session=db, city_id=city_id, slot_id=slot_id)
    city_service.delete_slot(db_session=db, slot=slot)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _own(db: SessionDep, operator: CurrentOperator, city_id: int) -> City:
    return city_service.get_own(db_session=db, city_id=city_id, operator_city_id=operator.city_id)
