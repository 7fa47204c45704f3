"""My orders as timelines: placed, group formed or failed, packed, on the van, in the locker
(with the pickup code only its owner sees), collected."""

from dataclasses import dataclass, field
from datetime import datetime

import segno
from sqlalchemy.orm import Session

from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import CompartmentView, LockerBankView
from app.orders import service as order_service
from app.orders.queries import OrderStatus
from app.orders.schemas import OrderRead
from app.windows import queries as window_queries
from lockers import codes, extension, protocol
from logistics import parcels as logistics_parcels
from logistics import queries as logistics_queries
from logistics.parcels import Parcel, ParcelStatus
from logistics.queries import StopTimes

# How far along the happy path each status is; side exits are placed where they branch off.
PROGRESS = {
    OrderStatus.PLACED: 0,
    OrderStatus.CANCELLED: 0,
    OrderStatus.GROUP_FAILED: 0,
    OrderStatus.CONFIRMED: 1,
    OrderStatus.PACKED: 2,
    OrderStatus.UNDELIVERED: 2,
    OrderStatus.OUT_FOR_DELIVERY: 3,
    OrderStatus.READY_FOR_PICKUP: 4,
    OrderStatus.EXPIRED: 4,
    OrderStatus.COLLECTED: 5,
}
STATUS_KIND = {
    OrderStatus.PLACED: "unassigned",
    OrderStatus.CONFIRMED: "assigned",
    OrderStatus.PACKED: "assigned",
    OrderStatus.OUT_FOR_DELIVERY: "transit",
    OrderStatus.READY_FOR_PICKUP: "transit",
    OrderStatus.COLLECTED: "done",
    OrderStatus.CANCELLED: "stale",
    OrderStatus.GROUP_FAILED: "failed",
    OrderStatus.EXPIRED: "failed",
    OrderStatus.UNDELIVERED: "failed",
}
STATUS_LABEL = {
    OrderStatus.PLACED: "Placed",
    OrderStatus.CONFIRMED: "Group formed",
    OrderStatus.PACKED: "Packed",
    OrderStatus.OUT_FOR_DELIVERY: "On the van",
    OrderStatus.READY_FOR_PICKUP: "In the locker",
    OrderStatus.COLLECTED: "Collected",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.GROUP_FAILED: "Group did not form",
    OrderStatus.EXPIRED: "Not collected in time",
    OrderStatus.UNDELIVERED: "Not delivered",
}


@dataclass
class Step:
    """One line of the timeline: its label (English, translated in the template), whether it
    happened, and what to say about it."""

    label: str
    state: str  # done, now, ahead, failed
    at: datetime | None = None


@dataclass
class ParcelView:
    parcel_id: int
    temperature_class: str
    status: str
    size: str
    bank_name: str | None
    address: str | None
    compartment: str | None
    eta: datetime | None
    deadline: datetime
    code: str | None = field(repr=False, default=None)
    qr_svg: str | None = field(repr=False, default=None)
    extended: bool = False
    can_extend: bool = False


@dataclass
class OrderView:
    order: OrderRead
    cutoff_at: datetime
    steps: list[Step]
    parcels: list[ParcelView]
    cancellable: bool
    refund_minor: int
    kind: str
    label: str


def order_list(db: Session, resident_id: int, limit: int = 50) -> list[tuple[OrderRead, str, str]]:
    """The resident's newest orders with their status colour and label."""
    orders, _ = order_service.get_all_for_resident(
        db_session=db, resident_id=resident_id, limit=limit, offset=0
    )
    reads = order_service.to_reads(db, orders)
    return [
        (read, STATUS_KIND[o.status], STATUS_LABEL[o.status])
        for read, o in zip(reads, orders, strict=True)
    ]


def order_view(db: Session, resident_id: int, order_id: int, now: datetime) -> OrderView:
    """One of the resident's orders as a timeline (another's id is NotFound)."""
    order = order_service.get_for_resident(
        db_session=db, resident_id=resident_id, order_id=order_id
    )
    read = order_service.to_read(db, order)
    cutoff_at = window_queries.window_cutoff_at(db_session=db, window_id=order.window_id)
    assert cutoff_at is not None
    parcels = _parcel_views(db, order.id)
    return OrderView(
        order=read,
        cutoff_at=cutoff_at,
        steps=_steps(read, order.updated_at, cutoff_at, parcels),
        parcels=parcels,
        cancellable=read.status == OrderStatus.PLACED and cutoff_at > now,
        refund_minor=_refund(read),
        kind=STATUS_KIND[read.status],
        label=STATUS_LABEL[read.status],
    )


def _refund(order: OrderRead) -> int:
    if order.status in (OrderStatus.CANCELLED, OrderStatus.GROUP_FAILED):
        return order.paid_minor
    if order.charged_minor is None:
        return 0
    return max(order.paid_minor - order.charged_minor, 0)


def _steps(
    order: OrderRead, updated_at: datetime, cutoff_at: datetime, parcels: list[ParcelView]
) -> list[Step]:
    status = OrderStatus(order.status)
    reached = PROGRESS[status]
    steps = [Step("Placed", "done", order.created_at)]
    if status == OrderStatus.CANCELLED:
        return [*steps, Step("Cancelled", "failed", updated_at)]
    if status == OrderStatus.GROUP_FAILED:
        return [*steps, Step("Group did not form", "failed", cutoff_at)]
    eta = min((p.eta for p in parcels if p.eta is not None), default=None)
    happy = [
        ("Group formed", cutoff_at),
        ("Packed", None),
        ("On the van", eta),
        ("In the locker", None),
        ("Collected", None),
    ]
    for rank, (label, at) in enumerate(happy, start=1):
        state = "done" if rank <= reached else ("now" if rank == reached + 1 else "ahead")
        steps.append(Step(label, state, at))
    if status in (OrderStatus.UNDELIVERED, OrderStatus.EXPIRED):
        cut = PROGRESS[status] + 1
        steps = [*steps[:cut], Step(STATUS_LABEL[status], "failed", updated_at)]
    return steps


def _parcel_views(db: Session, order_id: int) -> list[ParcelView]:
    parcels = sorted(
        (
            p
            for p in logistics_parcels.parcels_of_order(db_session=db, order_id=order_id)
            if p.status != ParcelStatus.CANCELLED
        ),
        key=lambda p: p.id,
    )
    banks = neighborhood_queries.locker_banks_by_ids(
        db_session=db, bank_ids={p.bank_id for p in parcels if p.bank_id is not None}
    )
    compartments = neighborhood_queries.compartments_by_ids(
        db_session=db, compartment_ids={p.compartment_id for p in parcels if p.compartment_id}
    )
    stops = logistics_queries.stop_times(
        db_session=db, stop_ids={p.route_stop_id for p in parcels if p.route_stop_id}
    )
    return [
        _parcel_view(
            db,
            parcel,
            banks.get(parcel.bank_id) if parcel.bank_id is not None else None,
            compartments.get(parcel.compartment_id) if parcel.compartment_id else None,
            stops.get(parcel.route_stop_id) if parcel.route_stop_id else None,
        )
        for parcel in parcels
    ]


def _parcel_view(
    db: Session,
    parcel: Parcel,
    bank: LockerBankView | None,
    compartment: CompartmentView | None,
    stop: StopTimes | None,
) -> ParcelView:
    view = ParcelView(
        parcel_id=parcel.id,
        temperature_class=parcel.temperature_class.value,
        status=parcel.status.value,
        size=parcel.compartment_size.value,
        bank_name=bank.name if bank else None,
        address=bank.address if bank else None,
        compartment=compartment.label if compartment else None,
        eta=stop.eta if stop is not None and stop.arrived_at is None else None,
        deadline=parcel.pickup_deadline,
    )
    if parcel.status == ParcelStatus.READY_FOR_PICKUP and bank is not None:
        code = codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel.id)
        if code is not None:
            view.code = code
            payload = protocol.qr_payload(bank_code=bank.code, parcel_id=parcel.id, code=code)
            view.qr_svg = qr_svg(payload)
        row = codes.get_pickup_code(db_session=db, parcel_id=parcel.id)
        view.extended = row is not None and row.extended_at is not None
        view.can_extend = extension.can_extend(db_session=db, parcel=parcel)
    return view


def qr_svg(text: str, scale: int = 5) -> str:
    """An inline SVG QR code of `text`, drawn on the server."""
    return str(
        segno.make(text, error="m").svg_inline(
            scale=scale, dark="#111", light="#fff", omitsize=True
        )
    )
