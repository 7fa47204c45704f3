"""The parcel, route-stop and route state machines: every move outside the tables is refused."""

from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from logistics import lifecycle
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus, RouteStop, StopStatus

MODELS: dict[type[StrEnum], type[Any]] = {
    ParcelStatus: Parcel,
    StopStatus: RouteStop,
    RouteStatus: Route,
}


def _pairs(allowed: bool) -> list[Any]:
    cases = []
    for status_type, table in lifecycle.TABLES.items():
        for current in status_type:
            for target in status_type:
                if (target in table[current]) == allowed:
                    cases.append(
                        pytest.param(
                            status_type, current, target, id=f"{current.value}->{target.value}"
                        )
                    )
    return cases


def test_every_status_has_a_row() -> None:
    for status_type, table in lifecycle.TABLES.items():
        assert set(table) == set(status_type), status_type


@pytest.mark.parametrize(("status_type", "current", "target"), _pairs(allowed=False))
def test_every_illegal_move_is_refused(
    status_type: type[StrEnum], current: StrEnum, target: StrEnum
) -> None:
    thing = MODELS[status_type](id=7, status=current)
    with pytest.raises(lifecycle.IllegalTransition) as refused:
        lifecycle.transition(thing, target)
    assert refused.value.status_code == 409
    assert refused.value.code == "illegal_transition"
    assert refused.value.extra["current"] == current.value
    assert refused.value.extra["requested"] == target.value
    assert thing.status == current


@pytest.mark.parametrize(("status_type", "current", "target"), _pairs(allowed=True))
def test_every_allowed_move_is_made(
    status_type: type[StrEnum], current: StrEnum, target: StrEnum
) -> None:
    thing = MODELS[status_type](id=7, status=current)
    lifecycle.transition(thing, target)
    assert thing.status == target


def test_a_status_of_another_kind_is_refused() -> None:
    with pytest.raises(lifecycle.IllegalTransition):
        lifecycle.transition(Parcel(id=1, status=ParcelStatus.LOADED), RouteStatus.COMPLETED)


def test_terminal_states_and_the_documented_path() -> None:
    P = ParcelStatus
    path = [P.PACKED, P.RESERVED, P.LOADED, P.READY_FOR_PICKUP, P.EXPIRED, P.RETRIEVED]
    for current, target in zip(path, path[1:], strict=False):
        assert lifecycle.can_transition(current, target)
    for terminal in (P.COLLECTED, P.RETRIEVED, P.CANCELLED):
        assert lifecycle.PARCEL[terminal] == frozenset()
    assert lifecycle.ROUTE[RouteStatus.COMPLETED_WITH_ALARM] == frozenset()
    assert not lifecycle.can_transition(RouteStatus.PUBLISHED, RouteStatus.COMPLETED)
    assert not lifecycle.can_transition(StopStatus.PENDING, StopStatus.SERVED)


def test_undelivered_carries_its_reason_and_a_retry_clears_it() -> None:
    parcel = Parcel(id=3, status=ParcelStatus.LOADED)
    lifecycle.fail_parcel(parcel, "locker_offline")
    assert parcel.status == ParcelStatus.UNDELIVERED and parcel.failure_reason == "locker_offline"
    lifecycle.retry_parcel(parcel)
    assert parcel.status == ParcelStatus.RESERVED and parcel.failure_reason is None


def test_bulk_moves_check_the_table_and_only_move_parcels_in_the_source_state(
    make: Any, db: Session
) -> None:
    with pytest.raises(lifecycle.IllegalTransition):
        lifecycle.move_parcels(
            db_session=db, parcel_ids=[1], frm=ParcelStatus.COLLECTED, to=ParcelStatus.LOADED
        )
    from tests.logistics.conftest import World

    world = World(make)
    world.van()
    hood, _ = world.hood()
    world.order(hood, [(world.chilled, 1)])
    from logistics import packing, reservation

    packing.pack_window(db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False)
    reservation.reserve_window(db_session=db, window_id=world.window.id, commit=False)
    ids = list(db.scalars(select(Parcel.id).where(Parcel.window_id == world.window.id)))
    assert ids
    moved = lifecycle.move_parcels(
        db_session=db, parcel_ids=ids, frm=ParcelStatus.RESERVED, to=ParcelStatus.LOADED
    )
    assert moved == len(ids)
    again = lifecycle.move_parcels(
        db_session=db, parcel_ids=ids, frm=ParcelStatus.RESERVED, to=ParcelStatus.LOADED
    )
    assert again == 0
