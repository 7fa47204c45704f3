"""Driver actions synced from the phone: each id applied once, replays answer the same, an
action out of order is refused by name and recorded so."""

import uuid

import pytest
from sqlalchemy import func, select

from logistics import driver_actions
from logistics.driver_actions import ActionIdReused, ActionKind, DriverAction
from logistics.handover import FailureReason
from logistics.models import DriverActionReceipt, Parcel, ParcelStatus, Route, StopStatus
from tests.logistics.test_driver_api import _published


def _action(route: Route, kind: ActionKind, **kw: object) -> DriverAction:
    return DriverAction(action_id=str(uuid.uuid4()), kind=kind, route_id=route.id, **kw)  # type: ignore[arg-type]


def _never(parcel_id: int) -> str:
    raise AssertionError(f"no compartment should open (parcel {parcel_id})")


def test_the_same_action_id_twice_is_applied_once(world, db) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=2)
    staff = world.route_driver
    first = sorted(route.stops, key=lambda s: s.sequence)[0]
    arrive = _action(route, ActionKind.ARRIVE, stop_id=first.id)
    once = driver_actions.sync(
        db_session=db, staff=staff, route=route, action=arrive, open_compartment=_never
    )
    arrived_at = first.arrived_at
    again = driver_actions.sync(
        db_session=db, staff=staff, route=route, action=arrive, open_compartment=_never
    )
    assert once.outcome == again.outcome == "applied"
    assert (once.replayed, again.replayed) == (False, True)
    assert first.arrived_at == arrived_at and first.status == StopStatus.ARRIVED
    opened: list[int] = []

    def open_compartment(parcel_id: int) -> str:
        opened.append(parcel_id)
        return f"cmd-{parcel_id}"

    parcel = db.scalar(select(Parcel).where(Parcel.route_stop_id == first.id))
    deposit = _action(route, ActionKind.DEPOSIT, stop_id=first.id, parcel_id=parcel.id)
    for _ in range(3):
        receipt = driver_actions.sync(
            db_session=db,
            staff=staff,
            route=route,
            action=deposit,
            open_compartment=open_compartment,
        )
        assert receipt.command_id == f"cmd-{parcel.id}"
    assert opened == [parcel.id]
    count = db.scalar(select(func.count()).select_from(DriverActionReceipt))
    assert count == 2


def test_actions_out_of_order_are_refused_by_name_and_replayed_the_same(world, db) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=2)
    staff = world.route_driver
    first, second = sorted(route.stops, key=lambda s: s.sequence)

    def sync(action: DriverAction) -> driver_actions.Receipt:
        return driver_actions.sync(
            db_session=db, staff=staff, route=route, action=action, open_compartment=_never
        )

    depart_early = _action(route, ActionKind.DEPART, stop_id=first.id)
    refused = sync(depart_early)
    assert (refused.outcome, refused.status_code, refused.error_code) == (
        "refused",
        409,
        "not_arrived",
    )
    assert sync(depart_early).error_code == "not_arrived"
    assert sync(depart_early).replayed
    assert sync(_action(route, ActionKind.ARRIVE, stop_id=first.id)).outcome == "applied"
    elsewhere = sync(_action(route, ActionKind.ARRIVE, stop_id=second.id))
    assert elsewhere.error_code == "still_at_stop"
    assert second.arrived_at is None
    aboard = sync(_action(route, ActionKind.DEPART, stop_id=first.id))
    assert aboard.error_code == "parcels_not_handed_over"
    parcel = db.scalar(select(Parcel).where(Parcel.route_stop_id == second.id))
    not_here = sync(
        _action(
            route,
            ActionKind.FAIL,
            stop_id=second.id,
            parcel_id=parcel.id,
            reason=FailureReason.DAMAGED,
        )
    )
    assert not_here.error_code == "not_at_stop"
    assert parcel.status == ParcelStatus.LOADED


def test_an_action_id_cannot_name_another_action(world, db) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=2)
    staff = world.route_driver
    first, second = sorted(route.stops, key=lambda s: s.sequence)
    action = _action(route, ActionKind.ARRIVE, stop_id=first.id)
    driver_actions.sync(
        db_session=db, staff=staff, route=route, action=action, open_compartment=_never
    )
    reused = DriverAction(
        action_id=action.action_id, kind=ActionKind.ARRIVE, route_id=route.id, stop_id=second.id
    )
    with pytest.raises(ActionIdReused):
        driver_actions.sync(
            db_session=db, staff=staff, route=route, action=reused, open_compartment=_never
        )
