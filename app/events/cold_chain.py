"""The one emitter of "parcel.cold_chain_flag": a chilled or frozen parcel spent too long out
of its temperature, in a locker's zone (lockers/coldchain.py, one event per excursion) or in
a van running late (logistics/van_cold_chain.py, once per parcel). Both packages flag, so the
event lives below them; the resident gets the same cold-chain SMS either way."""

from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.events import service as event_service
from app.events.models import OutboxEvent

PARCEL_COLD_CHAIN_FLAG = "parcel.cold_chain_flag"


class FlaggedParcel(Protocol):
    """What the event needs of a parcel (`logistics.models.Parcel`)."""

    @property
    def id(self) -> int: ...
    @property
    def order_id(self) -> int: ...
    @property
    def resident_id(self) -> int: ...
    @property
    def bank_id(self) -> int | None: ...
    @property
    def compartment_id(self) -> int | None: ...
    @property
    def pickup_deadline(self) -> datetime: ...


def flag_parcel(
    *,
    db_session: Session,
    parcel: FlaggedParcel,
    occasion: str,
    zone: str,
    minutes_out: int,
    excursion_id: int | None = None,
    max_temp_c: float | None = None,
    **extra: Any,
) -> OutboxEvent:
    """Emit the flag once per parcel and `occasion` (an excursion id, or "van")."""
    payload: dict[str, Any] = {
        "parcel_id": parcel.id,
        "order_id": parcel.order_id,
        "resident_id": parcel.resident_id,
        "bank_id": parcel.bank_id,
        "compartment_id": parcel.compartment_id,
        "pickup_deadline": _utc_iso(parcel.pickup_deadline),
        "zone": zone,
        "minutes_out": minutes_out,
        "excursion_id": excursion_id,
        "max_temp_c": max_temp_c,
        **extra,
    }
    return event_service.emit(
        db_session=db_session,
        kind=PARCEL_COLD_CHAIN_FLAG,
        dedupe_key=f"{PARCEL_COLD_CHAIN_FLAG}:{parcel.id}:{occasion}",
        payload=payload,
    )


def _utc_iso(moment: datetime) -> str:
    """As the lockers' events write times: RFC 3339 UTC, milliseconds, `Z`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
