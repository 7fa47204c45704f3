"""What the live locker tests read back from the committed database, and the driver's deposit
through the API."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from app.events.models import OutboxEvent
from lockers import codes
from lockers.models import LockerEvent
from logistics.models import Parcel, ParcelStatus
from tests.lockers.conftest import World, wait_for


def fetch(world: World, model: Any, key: Any) -> Any:
    """The committed row of `model` with primary key `key`, or None."""
    with world.sessions() as db:
        return db.get(model, key)


def committed_events(world: World, kind: str) -> list[OutboxEvent]:
    """The committed outbox events of `kind`."""
    with world.sessions() as db:
        return list(db.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind)))


def parcel_status(world: World, parcel_id: int) -> ParcelStatus:
    """The parcel's committed status."""
    return fetch(world, Parcel, parcel_id).status  # type: ignore[no-any-return]


def request_deposit(world: World, client_for: Callable[[Any], Any], parcel: Parcel) -> str:
    """The driver's deposit of `parcel` through the API (accepted); the command's id."""
    response = client_for(world.driver).post(f"/lockers/parcels/{parcel.id}/deposit")
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def deposit_until_ready(
    world: World, client_for: Callable[[Any], Any], label: str = "A1"
) -> Parcel:
    """A new parcel in compartment `label`, deposited and ready for pickup."""
    parcel = world.parcel(label)
    request_deposit(world, client_for, parcel)
    wait_for(lambda: parcel_status(world, parcel.id) == ParcelStatus.READY_FOR_PICKUP)
    return parcel


def current_pickup_code(world: World, parcel_id: int) -> str | None:
    """The parcel's live pickup code as the server derives it, or None once used or revoked."""
    with world.sessions() as db:
        return codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel_id)


def stored_event(world: World, event_id: str) -> LockerEvent | None:
    """The bank's event `event_id` as stored, or None before it arrives."""
    with world.sessions() as db:
        return db.scalar(select(LockerEvent).where(LockerEvent.event_id == event_id))
