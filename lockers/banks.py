"""Locker banks, their live state (online, last seen) and their compartments. No commits here."""

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import CompartmentView, LockerBankView
from lockers.config import get_locker_settings
from lockers.errors import CompartmentNotFound, LockerBankNotFound
from lockers.models import LockerBankState


def get_bank(*, db_session: Session, bank_id: int) -> LockerBankView:
    """A locker bank by id, or NotFound."""
    bank = neighborhood_queries.locker_bank(db_session=db_session, bank_id=bank_id)
    if bank is None:
        raise LockerBankNotFound(f"no locker bank {bank_id}", field="bank_id")
    return bank


def get_bank_by_code(*, db_session: Session, code: str) -> LockerBankView | None:
    """A locker bank by its code (its MQTT identity), if any."""
    return neighborhood_queries.locker_bank_by_code(db_session=db_session, code=code)


def get_all_banks(*, db_session: Session) -> list[LockerBankView]:
    """Every locker bank, by id."""
    return neighborhood_queries.locker_banks(db_session=db_session)


def get_state(*, db_session: Session, bank_id: int) -> LockerBankState | None:
    """The last known live state of a bank, if it ever spoke."""
    return db_session.get(LockerBankState, bank_id)


def get_or_create_state(*, db_session: Session, bank_id: int) -> LockerBankState:
    """The live-state row of a bank, created (offline) on first use."""
    state = db_session.get(LockerBankState, bank_id)
    if state is None:
        state = LockerBankState(bank_id=bank_id, online=False, state={})
        db_session.add(state)
        db_session.flush()
    # Keep it referenced for the session's life (the identity map alone holds it weakly).
    db_session.info.setdefault("lockers_held", []).append(state)
    return state


def is_online(*, db_session: Session, bank_id: int, now: datetime | None = None) -> bool:
    """Whether the bank is online: its retained state says so and it spoke recently."""
    state = get_state(db_session=db_session, bank_id=bank_id)
    if state is None or not state.online or state.last_seen_at is None:
        return False
    now = now or utcnow()
    limit = timedelta(seconds=get_locker_settings().offline_after_seconds)
    return now - state.last_seen_at <= limit


def get_compartment(*, db_session: Session, compartment_id: int) -> CompartmentView:
    """A compartment by id, or NotFound."""
    compartment = neighborhood_queries.compartment(
        db_session=db_session, compartment_id=compartment_id
    )
    if compartment is None:
        raise CompartmentNotFound(f"no compartment {compartment_id}", field="compartment_id")
    return compartment


def get_compartment_by_label(
    *, db_session: Session, bank_id: int, label: str
) -> CompartmentView | None:
    """A bank's compartment by its label, if any."""
    return neighborhood_queries.compartment_by_label(
        db_session=db_session, bank_id=bank_id, label=label
    )
