"""Locker endpoints: the driver's deposit and retrieval, the resident's parcels and extension,
the operator's live view, remote open and out-of-service. Flows commit; routes stay thin."""

from datetime import UTC
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.deps import CurrentCaller, CurrentDriver, CurrentOperator, CurrentResident
from app.cities import service as city_service
from app.core.db import SessionDep
from app.core.limits import DbId
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import LockerBankView
from lockers import (
    audit_log,
    banks,
    codes,
    coldchain,
    deposit,
    errors,
    extension,
    locker_parcels,
    operator,
    protocol,
)
from lockers.models import LockerCommand, LockerEvent
from lockers.schemas import (
    AuditRead,
    BankLiveState,
    BankSummary,
    CommandRead,
    CompartmentState,
    LockerEventRead,
    MyParcelRead,
    OutOfServiceRequest,
    RemoteOpenRequest,
    RetrievalRead,
    ZoneState,
)
from logistics import parcels
from logistics.parcels import Parcel, ParcelStatus

router = APIRouter(prefix="/lockers", tags=["lockers"])


# --- helpers ---------------------------------------------------------------------------------


def _bank_city_id(db: Session, bank: LockerBankView) -> int:
    city_id = neighborhood_queries.bank_city_id(db_session=db, bank_id=bank.id)
    if city_id is None:
        raise errors.LockerBankNotFound(f"no locker bank {bank.id}", field="bank_id")
    return city_id


def _staff_bank(db: Session, city_id: int, bank_id: int) -> LockerBankView:
    """The bank, if it is in the staff member's city (404 otherwise, as for a missing one)."""
    bank = neighborhood_queries.locker_bank(db_session=db, bank_id=bank_id)
    if bank is None or _bank_city_id(db, bank) != city_id:
        raise errors.LockerBankNotFound(f"no locker bank {bank_id}", field="bank_id")
    return bank


def _driver_parcel(db: Session, driver: CurrentDriver, parcel_id: int) -> Parcel:
    """A parcel this driver may handle: its bank is in the driver's city and, when it is on
    a route with a driver, the driver is that one."""
    parcel = parcels.get_parcel(db_session=db, parcel_id=parcel_id)
    if parcel is None or parcel.bank_id is None:
        raise errors.ParcelNotFound(f"no parcel {parcel_id}", field="parcel_id")
    _staff_bank(db, driver.city_id, parcel.bank_id)
    route_driver = parcels.driver_of(db_session=db, parcel=parcel)
    if route_driver is not None and route_driver != driver.id:
        raise errors.ParcelOnAnotherRoute(
            "this parcel is on another driver's route", field="parcel_id"
        )
    return parcel


def _command_read(command: LockerCommand) -> CommandRead:
    return CommandRead.model_validate(command)


def _my_parcel(db: Session, parcel: Parcel) -> MyParcelRead:
    bank = (
        neighborhood_queries.locker_bank(db_session=db, bank_id=parcel.bank_id)
        if parcel.bank_id is not None
        else None
    )
    compartment = (
        banks.get_compartment(db_session=db, compartment_id=parcel.compartment_id)
        if parcel.compartment_id is not None
        else None
    )
    city_zone = "UTC"
    if bank is not None:
        city_zone = city_service.get_required(
            db_session=db, city_id=_bank_city_id(db, bank)
        ).timezone
    code_row = codes.get_pickup_code(db_session=db, parcel_id=parcel.id)
    in_locker = parcel.status == ParcelStatus.READY_FOR_PICKUP
    code = codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel.id) if in_locker else None
    flags = coldchain.flags_for_parcel(db_session=db, parcel_id=parcel.id)
    extended = code_row is not None and code_row.extended_at is not None
    can_extend = in_locker and extension.can_extend(db_session=db, parcel=parcel)
    return MyParcelRead(
        parcel_id=parcel.id,
        order_id=parcel.order_id,
        status=parcel.status.value,
        temperature_class=parcel.temperature_class.value,
        bank_id=bank.id if bank is not None else None,
        bank_name=bank.name if bank is not None else None,
        address=bank.address if bank is not None else None,
        compartment=compartment.label if compartment is not None else None,
        pickup_code=code,
        qr_text=protocol.qr_payload(bank_code=bank.code, parcel_id=parcel.id, code=code)
        if code is not None and bank is not None
        else None,
        pickup_deadline=parcel.pickup_deadline.astimezone(ZoneInfo(city_zone)),
        timezone=city_zone,
        extended=extended,
        can_extend=can_extend,
        cold_chain_minutes_out=max(
            (f.minutes_out for f in flags), default=parcel.van_minutes_over_limit
        ),
    )


def _summary_fields(db: Session, bank: LockerBankView) -> dict[str, object]:
    state = banks.get_state(db_session=db, bank_id=bank.id)
    return {
        "id": bank.id,
        "code": bank.code,
        "name": bank.name,
        "address": bank.address,
        "online": banks.is_online(db_session=db, bank_id=bank.id),
        "last_seen_at": state.last_seen_at if state else None,
        "keypad_locked_until": state.keypad_locked_until if state else None,
        "open_alarms": sum(
            1
            for e in coldchain.open_excursions(db_session=db, bank_id=bank.id)
            if e.alarm_at is not None
        ),
    }


# --- driver ----------------------------------------------------------------------------------


@router.post(
    "/parcels/{parcel_id}/deposit",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["driver"],
    summary="Open the parcel's reserved compartment for a deposit",
    responses={409: {"description": "Bank offline or compartment out of service: re-planned"}},
)
def request_deposit(db: SessionDep, driver: CurrentDriver, parcel_id: int) -> CommandRead:
    """Queue the open command; poll `GET /lockers/commands/{id}` until `acked`. The parcel
    becomes ready for pickup when the locker reports the door closed with it inside."""
    parcel = _driver_parcel(db, driver, parcel_id)
    command = deposit.request_deposit(db_session=db, parcel_id=parcel.id, driver_id=driver.id)
    return _command_read(command)


@router.post(
    "/parcels/{parcel_id}/retrieve",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["driver"],
    summary="Open an expired parcel's compartment to take it out",
)
def request_retrieval(db: SessionDep, driver: CurrentDriver, parcel_id: int) -> CommandRead:
    """The compartment frees when the locker reports the door closed, empty."""
    parcel = _driver_parcel(db, driver, parcel_id)
    command = deposit.request_retrieval(db_session=db, parcel_id=parcel.id, driver_id=driver.id)
    return _command_read(command)


@router.get("/retrievals", tags=["driver"], summary="Expired parcels to take out of lockers")
def list_retrievals(
    db: SessionDep, caller: CurrentCaller, bank_id: DbId | None = Query(default=None)
) -> list[RetrievalRead]:
    if caller.principal.role not in ("driver", "operator"):
        raise errors.RoleRequired("requires role driver or operator", field="authorization")
    staff = caller.staff
    if staff is None or not staff.active:
        raise errors.StaffAccountDisabled("account disabled or unknown", field="authorization")
    if bank_id is not None:
        _staff_bank(db, staff.city_id, bank_id)
    items = []
    for parcel in locker_parcels.parcels_to_retrieve(db_session=db, bank_id=bank_id):
        bank = (
            neighborhood_queries.locker_bank(db_session=db, bank_id=parcel.bank_id)
            if parcel.bank_id is not None
            else None
        )
        if bank is None or _bank_city_id(db, bank) != staff.city_id:
            continue
        compartment = (
            banks.get_compartment(db_session=db, compartment_id=parcel.compartment_id)
            if parcel.compartment_id is not None
            else None
        )
        items.append(
            RetrievalRead(
                parcel_id=parcel.id,
                bank_id=bank.id,
                bank_code=bank.code,
                compartment=compartment.label if compartment else None,
                pickup_deadline=parcel.pickup_deadline.astimezone(UTC),
            )
        )
    return items


@router.get("/commands/{command_id}", tags=["driver"], summary="Where a locker command stands")
def get_command(db: SessionDep, caller: CurrentCaller, command_id: str) -> CommandRead:
    """Drivers see the commands they asked for; operators see those of their city's banks."""
    principal = caller.principal
    if principal.role not in ("driver", "operator"):
        raise errors.RoleRequired("requires role driver or operator", field="authorization")
    command = db.get(LockerCommand, command_id)
    staff = caller.staff
    if command is None or staff is None or not staff.active:
        raise errors.LockerCommandNotFound(f"no locker command {command_id}", field="command_id")
    if principal.role == "driver" and command.requested_by_id != staff.id:
        raise errors.LockerCommandNotFound(f"no locker command {command_id}", field="command_id")
    _staff_bank(db, staff.city_id, command.bank_id)
    return _command_read(command)


# --- resident --------------------------------------------------------------------------------


@router.get("/my-parcels", tags=["resident"], summary="My parcels, lockers and pickup codes")
def my_parcels(db: SessionDep, resident: CurrentResident) -> list[MyParcelRead]:
    """Each parcel with its bank, address, compartment, pickup code (while it waits in the
    locker) and deadline in the city's time."""
    mine = locker_parcels.get_parcels_of_resident(db_session=db, resident_id=resident.id)
    return [_my_parcel(db, p) for p in mine]


@router.post(
    "/parcels/{parcel_id}/extend",
    tags=["resident"],
    summary="Extend a pickup deadline once",
    responses={409: {"description": "Already extended, not in a locker, or compartment needed"}},
)
def extend_deadline(db: SessionDep, resident: CurrentResident, parcel_id: int) -> MyParcelRead:
    parcel = extension.extend(db_session=db, parcel_id=parcel_id, resident_id=resident.id)
    return _my_parcel(db, parcel)


# --- operator --------------------------------------------------------------------------------


@router.get("/banks", tags=["operator"], summary="Locker banks of my city, online or not")
def list_banks(db: SessionDep, operator_user: CurrentOperator) -> list[BankSummary]:
    banks = neighborhood_queries.locker_banks(db_session=db, city_id=operator_user.city_id)
    return [BankSummary.model_validate(_summary_fields(db, bank)) for bank in banks]


@router.get("/banks/{bank_id}/state", tags=["operator"], summary="A bank's live state")
def bank_state(db: SessionDep, operator_user: CurrentOperator, bank_id: int) -> BankLiveState:
    bank = _staff_bank(db, operator_user.city_id, bank_id)
    picture = operator.bank_picture(db_session=db, bank_id=bank.id)
    state = picture.state
    reported = (state.state if state else {}) or {}
    reported_compartments = reported.get("compartments", {})
    reported_zones: dict[str, float] = reported.get("zones", {})
    excursions = {e.zone.value: e for e in picture.open_excursions}
    zones = sorted({c.zone.value for c, _ in picture.compartments} | set(reported_zones))
    return BankLiveState(
        **_summary_fields(db, bank),
        firmware=state.firmware if state else None,
        state_at=state.state_at if state else None,
        clock_skew_seconds=state.clock_skew_seconds if state else None,
        went_offline_at=state.went_offline_at if state else None,
        keypad_failed_attempts=state.keypad_failed_attempts if state else 0,
        zones=[
            ZoneState(
                zone=zone,
                temp_c=reported_zones.get(zone),
                limit_c=coldchain.limit_for(zone),
                excursion_since=excursions[zone].started_at if zone in excursions else None,
                alarm_at=excursions[zone].alarm_at if zone in excursions else None,
            )
            for zone in zones
        ],
        compartments=[
            CompartmentState(
                id=c.id,
                label=c.label,
                size=c.size.value,
                zone=c.zone.value,
                status=c.status.value,
                parcel_id=p.id if p else None,
                parcel_status=p.status.value if p else None,
                door=reported_compartments.get(c.label, {}).get("door"),
                reported_occupied=reported_compartments.get(c.label, {}).get("occupied"),
                reported_out_of_service=reported_compartments.get(c.label, {}).get(
                    "out_of_service"
                ),
            )
            for c, p in picture.compartments
        ],
        pending_commands=[_command_read(c) for c in picture.pending_commands],
    )


@router.post(
    "/banks/{bank_id}/compartments/{compartment_id}/open",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["operator"],
    summary="Open a compartment remotely (audited)",
)
def remote_open(
    db: SessionDep,
    operator_user: CurrentOperator,
    bank_id: int,
    compartment_id: int,
    body: RemoteOpenRequest,
) -> CommandRead:
    bank = _staff_bank(db, operator_user.city_id, bank_id)
    command = operator.remote_open(
        db_session=db,
        bank_id=bank.id,
        compartment_id=compartment_id,
        reason=body.reason,
        operator_id=operator_user.id,
    )
    return _command_read(command)


@router.post(
    "/banks/{bank_id}/compartments/{compartment_id}/out-of-service",
    tags=["operator"],
    summary="Take a compartment out of service, or back (audited)",
)
def out_of_service(
    db: SessionDep,
    operator_user: CurrentOperator,
    bank_id: int,
    compartment_id: int,
    body: OutOfServiceRequest,
) -> CompartmentState:
    bank = _staff_bank(db, operator_user.city_id, bank_id)
    compartment = operator.set_out_of_service(
        db_session=db,
        bank_id=bank.id,
        compartment_id=compartment_id,
        out_of_service=body.out_of_service,
        reason=body.reason,
        operator_id=operator_user.id,
    )
    parcel = locker_parcels.parcel_in_compartment(db_session=db, compartment_id=compartment.id)
    return CompartmentState(
        id=compartment.id,
        label=compartment.label,
        size=compartment.size.value,
        zone=compartment.zone.value,
        status=compartment.status.value,
        parcel_id=parcel.id if parcel else None,
        parcel_status=parcel.status.value if parcel else None,
        door=None,
        reported_occupied=None,
        reported_out_of_service=None,
    )


@router.get("/banks/{bank_id}/audit", tags=["operator"], summary="A bank's audit log")
def bank_audit(db: SessionDep, operator_user: CurrentOperator, bank_id: int) -> list[AuditRead]:
    bank = _staff_bank(db, operator_user.city_id, bank_id)
    return [
        AuditRead.model_validate(e) for e in audit_log.get_audit_log(db_session=db, bank_id=bank.id)
    ]


@router.get("/banks/{bank_id}/events", tags=["operator"], summary="A bank's latest events")
def bank_events(
    db: SessionDep,
    operator_user: CurrentOperator,
    bank_id: int,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[LockerEventRead]:
    bank = _staff_bank(db, operator_user.city_id, bank_id)
    events = db.scalars(
        select(LockerEvent)
        .where(LockerEvent.bank_id == bank.id)
        .order_by(LockerEvent.id.desc())
        .limit(limit)
    )
    return [LockerEventRead.model_validate(e) for e in events]
