"""Operator endpoints for the neighborhoods of the operator's city, their locker banks and the
banks' compartments. Another city's ids answer 404."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth.deps import CurrentOperator
from app.cities import service as city_service
from app.core.db import SessionDep
from app.core.pagination import Page
from app.neighborhoods import service as neighborhood_service
from app.neighborhoods.models import LockerBank, Neighborhood
from app.neighborhoods.schemas import (
    CompartmentBulkCreate,
    CompartmentQuery,
    CompartmentRead,
    LockerBankCreate,
    LockerBankQuery,
    LockerBankRead,
    LockerBankUpdate,
    NeighborhoodCreate,
    NeighborhoodQuery,
    NeighborhoodRead,
    NeighborhoodUpdate,
)

neighborhoods = APIRouter(prefix="/neighborhoods", tags=["operator"])
banks = APIRouter(prefix="/locker-banks", tags=["operator"])


@neighborhoods.get("", summary="List my city's neighborhoods")
def list_neighborhoods(
    db: SessionDep, operator: CurrentOperator, params: Annotated[NeighborhoodQuery, Query()]
) -> Page[NeighborhoodRead]:
    items, total = neighborhood_service.get_all(
        db_session=db,
        city_id=operator.city_id,
        active=params.active,
        q=params.q,
        limit=params.limit,
        offset=params.offset,
    )
    return Page[NeighborhoodRead](
        items=[NeighborhoodRead.model_validate(n) for n in items],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


@neighborhoods.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a neighborhood in my city",
    responses={409: {"description": "The city has a neighborhood with this name"}},
)
def create_neighborhood(
    db: SessionDep, operator: CurrentOperator, neighborhood_in: NeighborhoodCreate
) -> NeighborhoodRead:
    city = city_service.get_required(db_session=db, city_id=operator.city_id)
    hood = neighborhood_service.create(
        db_session=db, city_id=city.id, neighborhood_in=neighborhood_in
    )
    db.commit()
    return NeighborhoodRead.model_validate(hood)


@neighborhoods.get("/{neighborhood_id}", summary="Get a neighborhood")
def get_neighborhood(
    db: SessionDep, operator: CurrentOperator, neighborhood_id: int
) -> NeighborhoodRead:
    return NeighborhoodRead.model_validate(_hood(db, operator.city_id, neighborhood_id))


@neighborhoods.patch("/{neighborhood_id}", summary="Change or deactivate a neighborhood")
def update_neighborhood(
    db: SessionDep,
    operator: CurrentOperator,
    neighborhood_id: int,
    neighborhood_in: NeighborhoodUpdate,
) -> NeighborhoodRead:
    hood = _hood(db, operator.city_id, neighborhood_id)
    hood = neighborhood_service.update(
        db_session=db, neighborhood=hood, neighborhood_in=neighborhood_in
    )
    db.commit()
    return NeighborhoodRead.model_validate(hood)


@neighborhoods.delete(
    "/{neighborhood_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a neighborhood nothing refers to",
    responses={409: {"description": "Still referred to; deactivate it instead"}},
)
def delete_neighborhood(
    db: SessionDep, operator: CurrentOperator, neighborhood_id: int
) -> Response:
    hood = _hood(db, operator.city_id, neighborhood_id)
    neighborhood_service.delete(db_session=db, neighborhood=hood)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@neighborhoods.get("/{neighborhood_id}/locker-banks", summary="A neighborhood's locker banks")
def list_neighborhood_banks(
    db: SessionDep,
    operator: CurrentOperator,
    neighborhood_id: int,
    params: Annotated[LockerBankQuery, Query()],
) -> Page[LockerBankRead]:
    _hood(db, operator.city_id, neighborhood_id)
    return _bank_page(db, operator.city_id, params, neighborhood_id=neighborhood_id)


@neighborhoods.post(
    "/{neighborhood_id}/locker-banks",
    status_code=status.HTTP_201_CREATED,
    summary="Add a locker bank to a neighborhood",
    responses={409: {"description": "A locker bank with this code exists"}},
)
def create_bank(
    db: SessionDep, operator: CurrentOperator, neighborhood_id: int, bank_in: LockerBankCreate
) -> LockerBankRead:
    hood = _hood(db, operator.city_id, neighborhood_id)
    bank = neighborhood_service.create_bank(db_session=db, neighborhood=hood, bank_in=bank_in)
    db.commit()
    return LockerBankRead.model_validate(bank)


@banks.get("", summary="List my city's locker banks")
def list_banks(
    db: SessionDep, operator: CurrentOperator, params: Annotated[LockerBankQuery, Query()]
) -> Page[LockerBankRead]:
    return _bank_page(db, operator.city_id, params, neighborhood_id=params.neighborhood_id)


@banks.get("/{bank_id}", summary="Get a locker bank")
def get_bank(db: SessionDep, operator: CurrentOperator, bank_id: int) -> LockerBankRead:
    return LockerBankRead.model_validate(_bank(db, operator.city_id, bank_id))


@banks.patch("/{bank_id}", summary="Change a locker bank or move it to another neighborhood")
def update_bank(
    db: SessionDep, operator: CurrentOperator, bank_id: int, bank_in: LockerBankUpdate
) -> LockerBankRead:
    bank = _bank(db, operator.city_id, bank_id)
    bank = neighborhood_service.update_bank(db_session=db, bank=bank, bank_in=bank_in)
    db.commit()
    return LockerBankRead.model_validate(bank)


@banks.delete(
    "/{bank_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a locker bank and its compartments",
    responses={409: {"description": "Compartments are reserved, occupied or referred to"}},
)
def delete_bank(db: SessionDep, operator: CurrentOperator, bank_id: int) -> Response:
    bank = _bank(db, operator.city_id, bank_id)
    neighborhood_service.delete_bank(db_session=db, bank=bank)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@banks.get("/{bank_id}/compartments", summary="A locker bank's compartments")
def list_compartments(
    db: SessionDep,
    operator: CurrentOperator,
    bank_id: int,
    params: Annotated[CompartmentQuery, Query()],
) -> Page[CompartmentRead]:
    _bank(db, operator.city_id, bank_id)
    items, total = neighborhood_service.get_all_compartments(
        db_session=db,
        bank_id=bank_id,
        zone=params.zone,
        size=params.size,
        status=params.status,
        limit=params.limit,
        offset=params.offset,
    )
    return Page[CompartmentRead](
        items=[CompartmentRead.model_validate(c) for c in items],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


@banks.post(
    "/{bank_id}/compartments",
    status_code=status.HTTP_201_CREATED,
    summary="Add compartments in bulk: counts per size and zone",
)
def create_compartments(
    db: SessionDep,
    operator: CurrentOperator,
    bank_id: int,
    compartments_in: CompartmentBulkCreate,
) -> list[CompartmentRead]:
    bank = _bank(db, operator.city_id, bank_id)
    created = neighborhood_service.create_compartments(
        db_session=db, bank=bank, compartments_in=compartments_in
    )
    db.commit()
    return [CompartmentRead.model_validate(c) for c in created]


@banks.get("/{bank_id}/compartments/{compartment_id}", summary="Get a compartment")
def get_compartment(
    db: SessionDep, operator: CurrentOperator, bank_id: int, compartment_id: int
) -> CompartmentRead:
    _bank(db, operator.city_id, bank_id)
    compartment = neighborhood_service.get_compartment(
        db_session=db, bank_id=bank_id, compartment_id=compartment_id
    )
    return CompartmentRead.model_validate(compartment)


def _hood(db: SessionDep, city_id: int, neighborhood_id: int) -> Neighborhood:
    return neighborhood_service.get_required(
        db_session=db, neighborhood_id=neighborhood_id, city_id=city_id
    )


def _bank(db: SessionDep, city_id: int, bank_id: int) -> LockerBank:
    return neighborhood_service.get_bank(db_session=db, bank_id=bank_id, city_id=city_id)


def _bank_page(
    db: SessionDep, city_id: int, params: LockerBankQuery, *, neighborhood_id: int | None
) -> Page[LockerBankRead]:
    items, total = neighborhood_service.get_all_banks(
        db_session=db,
        city_id=city_id,
        neighborhood_id=neighborhood_id,
        q=params.q,
        limit=params.limit,
        offset=params.offset,
    )
    return Page[LockerBankRead](
        items=[LockerBankRead.model_validate(b) for b in items],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


router = APIRouter()
router.include_router(neighborhoods)
router.include_router(banks)
