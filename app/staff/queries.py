"""Reading staff accounts for other packages: plain values, never the model."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    ScalarSelect,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Session

from app.staff.models import StaffRole as StaffRole
from app.staff.models import StaffUser


@dataclass(frozen=True)
class StaffAccount:
    """An operator's or driver's account as the signed-in caller (no password hash)."""

    id: int
    city_id: int
    username: str
    full_name: str
    role: StaffRole
    active: bool
    token_version: int
    created_at: datetime


_STAFF_ACCOUNT_COLUMNS = (
    StaffUser.id,
    StaffUser.city_id,
    StaffUser.username,
    StaffUser.full_name,
    StaffUser.role,
    StaffUser.active,
    StaffUser.token_version,
    StaffUser.created_at,
)


def staff_account(db_session: Session, staff_id: int) -> StaffAccount | None:
    """The account with this id, if any."""
    row = db_session.execute(
        select(*_STAFF_ACCOUNT_COLUMNS).where(StaffUser.id == staff_id)
    ).first()
    return None if row is None else StaffAccount(*row)


class StaffAccountCheck:
    """A staff account and whether `condition` holds, read in one statement that is built once:
    the condition names its values as bind parameters, given at each read. Run on the
    session's connection (plain rows, no ORM step): it is every staff request's read."""

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self._statement = select(*_STAFF_ACCOUNT_COLUMNS, condition).where(
            StaffUser.id == bindparam("staff_id")
        )

    def __call__(
        self, db_session: Session, staff_id: int, **params: Any
    ) -> tuple[StaffAccount, bool] | None:
        """The account and whether the condition holds; None when there is no such account."""
        row = (
            db_session.connection()
            .execute(self._statement, {"staff_id": staff_id, **params})
            .first()
        )
        if row is None:
            return None
        *account, holds = tuple[Any, ...](row)
        return StaffAccount(*account), bool(holds)


def _display_name() -> ColumnElement[str]:
    return func.coalesce(func.nullif(StaffUser.full_name, ""), StaffUser.username)


def staff_display_names(db_session: Session, staff_ids: Collection[int]) -> dict[int, str]:
    """The full name (else the username) of these staff accounts, by id."""
    if not staff_ids:
        return {}
    rows = db_session.execute(
        select(StaffUser.id, _display_name()).where(StaffUser.id.in_(set(staff_ids)))
    )
    return {staff_id: name for staff_id, name in rows}


def staff_display_name_query(staff_id: ColumnExpressionArgument[int | None]) -> ScalarSelect[str]:
    """The full name (else the username) of the account `staff_id` names, as a subquery."""
    return select(_display_name()).where(StaffUser.id == staff_id).scalar_subquery()


def staff_username_query(staff_id: ColumnExpressionArgument[int | None]) -> ScalarSelect[str]:
    """The username of the account `staff_id` names, as a subquery."""
    return select(StaffUser.username).where(StaffUser.id == staff_id).scalar_subquery()
