"""Extension: a resident may push a pickup deadline back once, by a set number of hours, when
the compartment is not needed for the next window."""

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import Conflict
from app.neighborhoods import queries as neighborhood_queries
from app.windows import queries as window_queries
from lockers import banks, codes, domain_events, locker_parcels
from lockers.config import get_locker_settings
from lockers.errors import ParcelNotFound
from logistics import parcels
from logistics.parcels import Parcel, ParcelStatus


class ExtensionRefused(Conflict):
    code = "extension_refused"


def extend(*, db_session: Session, parcel_id: int, resident_id: int) -> Parcel:
    """Flow: extend the resident's parcel deadline once (commits); refusals say why."""
    parcel = locker_parcels.get_parcel(db_session=db_session, parcel_id=parcel_id, for_update=True)
    if parcel.resident_id != resident_id:
        raise ParcelNotFound(f"no parcel {parcel_id}", field="parcel_id")
    if parcel.status != ParcelStatus.READY_FOR_PICKUP:
        raise ExtensionRefused(
            f"only a parcel waiting in a locker can be extended; this one is {parcel.status.value}",
            field="parcel_id",
        )
    code = codes.get_pickup_code(db_session=db_session, parcel_id=parcel.id)
    if code is None:
        raise ExtensionRefused("the parcel has no pickup code", field="parcel_id")
    if code.extended_at is not None:
        raise ExtensionRefused("the pickup deadline was already extended once", field="parcel_id")
    now = utcnow()
    if parcel.pickup_deadline <= now:
        raise ExtensionRefused("the pickup deadline has passed", field="parcel_id")
    hours = get_locker_settings().extension_hours
    old_deadline = parcel.pickup_deadline
    new_deadline = old_deadline + timedelta(hours=hours)
    reason = compartment_needed(db_session=db_session, parcel=parcel, until=new_deadline)
    if reason is not None:
        raise ExtensionRefused(
            f"the compartment is needed for the next delivery: {reason}", field="parcel_id"
        )
    parcels.extend_deadline(parcel, new_deadline)
    code.expires_at = new_deadline
    code.extended_at = now
    codes.push_code(db_session=db_session, parcel=parcel, row=code)
    domain_events.emit(
        db_session=db_session,
        kind=domain_events.PARCEL_EXTENDED,
        dedupe_key=f"{domain_events.PARCEL_EXTENDED}:{parcel.id}",
        payload=domain_events.parcel_payload(
            parcel, previous_deadline=old_deadline, extended_by_hours=hours
        ),
    )
    db_session.commit()
    return parcel


def compartment_needed(*, db_session: Session, parcel: Parcel, until: datetime) -> str | None:
    """Why the parcel's compartment is needed before `until`, or None if it is not.

    Needed when another parcel is assigned to it, when parcels for this bank and zone still
    wait for a compartment, or when a delivery window arrives before `until` and the bank has
    no other free compartment of the same zone and size.
    """
    if parcel.compartment_id is None or parcel.bank_id is None:
        return "the parcel is in no compartment"
    compartment = banks.get_compartment(db_session=db_session, compartment_id=parcel.compartment_id)
    if parcels.others_bound_for_compartment(
        db_session=db_session, compartment_id=compartment.id, excluding_parcel_id=parcel.id
    ):
        return "another parcel is reserved for this compartment"
    unplaced = parcels.unplaced_for_bank_zone(
        db_session=db_session, bank_id=parcel.bank_id, zone=compartment.zone
    )
    if unplaced:
        return "parcels for this locker are waiting for a compartment"
    bank = banks.get_bank(db_session=db_session, bank_id=parcel.bank_id)
    city_id = neighborhood_queries.bank_city_id(db_session=db_session, bank_id=bank.id)
    window_soon = city_id is not None and window_queries.count_windows_ready_between(
        db_session=db_session, city_id=city_id, after=utcnow(), until=until
    )
    if window_soon:
        spare = neighborhood_queries.count_free_compartments(
            db_session=db_session,
            bank_id=bank.id,
            zone=compartment.zone,
            size=compartment.size,
            excluding_id=compartment.id,
        )
        if not spare:
            return "a delivery window arrives before then and no other compartment is free"
    return None


def can_extend(*, db_session: Session, parcel: Parcel) -> bool:
    """Whether `extend` would accept this parcel now (for the app's button)."""
    if parcel.status != ParcelStatus.READY_FOR_PICKUP or parcel.pickup_deadline <= utcnow():
        return False
    code = codes.get_pickup_code(db_session=db_session, parcel_id=parcel.id)
    if code is None or code.extended_at is not None:
        return False
    until = parcel.pickup_deadline + timedelta(hours=get_locker_settings().extension_hours)
    return compartment_needed(db_session=db_session, parcel=parcel, until=until) is None
