"""Operators manage the operator and driver accounts of their city (mounted by app.auth.routes)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from app.auth.deps import CurrentOperator
from app.core.db import SessionDep
from app.residents.schemas import ID_MAX
from app.staff import queries as staff_queries
from app.staff import service as staff_service
from app.staff.models import StaffRole
from app.staff.queries import StaffAccount
from app.staff.schemas import StaffCreate, StaffRead, StaffUpdate

router = APIRouter(prefix="/staff", tags=["operator"])
StaffId = Annotated[int, Path(gt=0, le=ID_MAX, description="A staff account's id")]


def _get_in_city(db: SessionDep, staff_id: int, operator: StaffAccount) -> StaffAccount:
    """The account if it is of the operator's city (the operator's own is already read)."""
    if staff_id == operator.id:
        return operator
    user = staff_queries.staff_account(db, staff_id)
    if user is None or user.city_id != operator.city_id:
        raise staff_service.StaffNotFound(f"no staff account {staff_id}", field="staff_id")
    return user


@router.get("", summary="Staff accounts of my city")
def list_staff(
    operator: CurrentOperator,
    db: SessionDep,
    role: Annotated[StaffRole | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
) -> list[StaffRead]:
    """Operator and driver accounts of the operator's city, by username."""
    users = staff_service.get_all(db_session=db, city_id=operator.city_id, role=role, active=active)
    return [StaffRead.model_validate(u) for u in users]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an operator or driver account",
    responses={409: {"description": "The username is taken"}},
)
def create_staff(body: StaffCreate, operator: CurrentOperator, db: SessionDep) -> StaffRead:
    """A new active account in the operator's city."""
    user = staff_service.create(
        db_session=db,
        city_id=operator.city_id,
        username=body.username,
        password=body.password,
        role=body.role,
        full_name=body.full_name,
    )
    db.commit()
    return StaffRead.model_validate(user)


@router.get("/{staff_id}", summary="One staff account")
def read_staff(staff_id: StaffId, operator: CurrentOperator, db: SessionDep) -> StaffRead:
    """An account of the operator's city."""
    return StaffRead.model_validate(_get_in_city(db, staff_id, operator))


@router.patch("/{staff_id}", summary="Disable, enable, rename or reset the password of an account")
def update_staff(
    staff_id: StaffId, changes: StaffUpdate, operator: CurrentOperator, db: SessionDep
) -> StaffRead:
    """Change an account of the city; a disabled account's tokens stop working at once."""
    user = _get_in_city(db, staff_id, operator)
    if user.id == operator.id and changes.active is False:
        raise staff_service.CannotDisableSelf("you cannot disable your own account", field="active")
    updated = staff_service.update(
        db_session=db,
        account=user,
        full_name=changes.full_name,
        active=changes.active,
        password=changes.password,
    )
    db.commit()
    return StaffRead.model_validate(updated)
