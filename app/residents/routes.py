"""A resident's own profile, and operators' view of the residents of their city."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from app.auth.deps import CurrentOperator, CurrentResident, TokenPrincipal, as_resident
from app.core.db import SessionDep
from app.core.limits import MAX_INT
from app.residents import service as residents_service
from app.residents.schemas import (
    ID_MAX,
    ResidentCreate,
    ResidentRead,
    ResidentSelfUpdate,
    ResidentUpdate,
)

router = APIRouter()
ResidentId = Annotated[int, Path(gt=0, le=ID_MAX, description="A resident's id")]


@router.get("/me", tags=["resident"], summary="My profile")
async def read_me(principal: TokenPrincipal, db: SessionDep) -> ResidentRead:
    """The calling resident's profile (read-only, one hop to a worker thread)."""
    return await as_resident(db, principal, ResidentRead.model_validate, reads_only=True)


@router.patch("/me", tags=["resident"], summary="Change my name, language or SMS consent")
def update_me(
    changes: ResidentSelfUpdate, resident: CurrentResident, db: SessionDep
) -> ResidentRead:
    """Change name, language or SMS consent; the neighborhood is changed by an operator."""
    updated = residents_service.update_own_profile(
        db_session=db,
        account=resident,
        name=changes.name,
        language=changes.language,
        sms_consent=changes.sms_consent,
    )
    db.commit()
    return ResidentRead.model_validate(updated)


@router.get("/residents", tags=["operator"], summary="Find residents of my city")
def list_residents(
    operator: CurrentOperator,
    db: SessionDep,
    neighborhood_id: Annotated[int | None, Query(gt=0, le=ID_MAX)] = None,
    phone: Annotated[
        str | None,
        Query(max_length=32, description="Exact number, e.g. %2B8613812345678 (URL-encode +)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> list[ResidentRead]:
    """Residents of the operator's city, by id, filtered by neighborhood and/or phone."""
    residents = residents_service.get_all(
        db_session=db,
        city_id=operator.city_id,
        neighborhood_id=neighborhood_id,
        phone=phone,
        limit=limit,
        offset=offset,
    )
    return [ResidentRead.model_validate(r) for r in residents]


@router.post(
    "/residents",
    status_code=status.HTTP_201_CREATED,
    tags=["operator"],
    summary="Register a resident",
    responses={409: {"description": "A resident with this phone exists"}},
)
def create_resident(
    body: ResidentCreate, operator: CurrentOperator, db: SessionDep
) -> ResidentRead:
    """Register a resident in a neighborhood of the operator's city."""
    resident = residents_service.create(
        db_session=db,
        phone=body.phone,
        neighborhood_id=body.neighborhood_id,
        name=body.name,
        language=body.language,
        sms_consent=body.sms_consent,
        city_id=operator.city_id,
    )
    db.commit()
    return ResidentRead.model_validate(resident)


@router.get("/residents/{resident_id}", tags=["operator"], summary="One resident")
def read_resident(
    resident_id: ResidentId, operator: CurrentOperator, db: SessionDep
) -> ResidentRead:
    """A resident of the operator's city."""
    resident = residents_service.get_in_city(
        db_session=db, resident_id=resident_id, city_id=operator.city_id
    )
    return ResidentRead.model_validate(resident)


@router.patch("/residents/{resident_id}", tags=["operator"], summary="Change a resident")
def update_resident(
    resident_id: ResidentId, changes: ResidentUpdate, operator: CurrentOperator, db: SessionDep
) -> ResidentRead:
    """Change a resident's details, including moving them to another neighborhood of the city."""
    resident = residents_service.get_in_city(
        db_session=db, resident_id=resident_id, city_id=operator.city_id
    )
    residents_service.update(
        db_session=db,
        resident=resident,
        name=changes.name,
        language=changes.language,
        sms_consent=changes.sms_consent,
        neighborhood_id=changes.neighborhood_id,
        city_id=operator.city_id,
        active=changes.active,
    )
    db.commit()
    return ResidentRead.model_validate(resident)
