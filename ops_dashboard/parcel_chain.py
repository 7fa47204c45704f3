"""One parcel's (or order's) whole chain as a timeline: order, group buys, packing, compartment,
route, locker commands and acks, locker events, SMS and their receipts, money, the ending.

Read set-based: a query per kind of record, never one per row. Nothing here reads a pickup
code, and phones stay whole only until the page masks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.neighborhoods.queries import (
    BankLabel,
    CompartmentLabel,
    bank_labels,
    compartment_labels,
    neighborhood_names,
)
from app.orders.queries import OrderView
from app.payments.queries import LedgerLine, ledger_of_order
from app.residents.queries import resident_contacts
from app.web.templating import local_time, mask_phone, money
from app.windows.queries import WindowView, window_view
from lockers.queries import (
    ColdChainFlagView,
    CommandView,
    bank_events_between,
    cold_chain_flags_of_parcels,
    commands_of_parcels,
)
from logistics.queries import ParcelView, StopOnRoute, parcel_views_of_order, stops_on_routes
from notifications.queries import messages_of_resident
from ops_dashboard.parcels_queries import Line, order_lines, status_kind

DOOR_EVENTS = ("door_opened", "door_closed", "door_jammed", "parcel_collected")
COMMAND_KIND = {"acked": "done", "failed": "failed", "expired": "failed", "sent": "transit"}
SMS_KIND = {"delivered": "done", "sent": "transit", "failed": "failed", "undelivered": "failed"}
EVENT_KIND = {"parcel_collected": "done", "door_jammed": "failed"}


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass
class Step:
    """One moment of the chain: when, which stage, what happened, the facts worth showing."""

    at: datetime | None
    stage: str
    title: str
    kind: str = "unassigned"
    facts: list[tuple[str, Any]] = field(default_factory=list)
    link: str | None = None

    def __post_init__(self) -> None:
        self.at = _aware(self.at)
        self.facts = [(label, _shown(value)) for label, value in self.facts]


def _shown(value: Any) -> Any:
    if isinstance(value, datetime):
        return local_time(_aware(value), "%m-%d %H:%M")
    return "—" if value is None else value


@dataclass
class Chain:
    """Everything the chain page shows."""

    order: OrderView
    window: WindowView
    phone: str
    neighborhood: str
    lines: list[Line]
    parcels: list[ParcelView]
    parcel: ParcelView | None
    steps: list[Step]
    charged_minor: int
    refunded_minor: int


def _order_steps(order: OrderView, lines: list[Line], window: WindowView) -> list[Step]:
    steps = [
        Step(
            order.created_at,
            "order",
            "Order placed",
            "unassigned",
            [("Lines", len(lines)), ("Paid", money(order.paid_minor, order.currency))],
        )
    ]
    groups = {line.group_status for line in lines}
    if groups - {"open"}:
        formed = sum(line.group_status == "formed" for line in lines)
        steps.append(
            Step(
                window.closed_at or window.cutoff_at,
                "group",
                "Group buys finalized at the cut-off",
                "done" if formed == len(lines) else ("failed" if not formed else "late"),
                [("Formed", formed), ("Failed", len(lines) - formed)],
            )
        )
    return steps


@dataclass
class _Records:
    """What the parcels shown link to, read once for them all."""

    compartments: dict[int, CompartmentLabel]
    banks: dict[int, BankLabel]
    stops: dict[int, StopOnRoute]
    commands: dict[int, list[CommandView]]
    flags: dict[int, list[ColdChainFlagView]]


def _records(db_session: Session, parcels: list[ParcelView]) -> _Records:
    ids = [p.id for p in parcels]
    return _Records(
        compartments=compartment_labels(
            db_session, {p.compartment_id for p in parcels if p.compartment_id is not None}
        ),
        banks=bank_labels(db_session, {p.bank_id for p in parcels if p.bank_id is not None}),
        stops=stops_on_routes(
            db_session, {p.route_stop_id for p in parcels if p.route_stop_id is not None}
        ),
        commands=commands_of_parcels(db_session, ids),
        flags=cold_chain_flags_of_parcels(db_session, ids),
    )


def _parcel_steps(
    db_session: Session, parcel: ParcelView, parts: int, records: _Records
) -> list[Step]:
    steps = [
        Step(
            parcel.created_at,
            "packing",
            "Packed",
            "assigned",
            [
                ("Temperature", parcel.temperature_class),
                ("Part", f"{parcel.sequence}/{parts}"),
                ("Size", parcel.compartment_size),
                ("Volume (L)", round(parcel.volume_ml / 1000, 1)),
            ],
        )
    ]
    if parcel.compartment_id is not None:
        compartment = records.compartments.get(parcel.compartment_id)
        bank = records.banks.get(parcel.bank_id) if parcel.bank_id else None
        steps.append(
            Step(
                parcel.reserved_at,
                "compartment",
                "Compartment reserved",
                "assigned",
                [
                    ("Bank", f"{bank.code} · {bank.name}" if bank else "—"),
                    ("Compartment", compartment.label if compartment else "—"),
                    ("Size", compartment.size if compartment else "—"),
                    ("Zone", compartment.zone if compartment else "—"),
                ],
                link=f"/ops/lockers/{bank.id}" if bank else None,
            )
        )
    elif parcel.unplaced_reason:
        steps.append(
            Step(
                parcel.created_at,
                "compartment",
                "No compartment",
                "failed",
                [("Reason", parcel.unplaced_reason)],
            )
        )
    steps.extend(_route_steps(parcel, records))
    steps.extend(_locker_steps(db_session, parcel, records))
    steps.extend(_cold_steps(parcel, records))
    return steps


def _route_steps(parcel: ParcelView, records: _Records) -> list[Step]:
    if parcel.route_stop_id is None:
        return []
    stop = records.stops.get(parcel.route_stop_id)
    if stop is None:
        return []
    facts = [("Van", stop.van_code), ("Stop", stop.sequence), ("Planned", stop.planned_arrival)]
    steps = [Step(stop.route_created_at, "route", "On a route", "assigned", facts, "/ops/routes")]
    if stop.arrived_at is not None:
        served = stop.status
        steps.append(
            Step(
                stop.arrived_at,
                "route",
                "Van arrived at the locker",
                "done" if served == "served" else ("failed" if served == "failed" else "transit"),
                [("Stop", stop.status)],
            )
        )
    return steps


def _locker_steps(db_session: Session, parcel: ParcelView, records: _Records) -> list[Step]:
    commands = records.commands.get(parcel.id, [])
    steps = []
    for command in commands:
        facts: list[tuple[str, Any]] = [
            ("Command", command.kind),
            ("Status", command.status),
            ("Attempts", command.attempts),
        ]
        if command.purpose:
            facts.append(("Purpose", command.purpose))
        if command.finished_at:
            facts.append(("Answered", command.finished_at))
        if command.error:
            facts.append(("Error", command.error))
        steps.append(
            Step(
                command.created_at,
                "locker",
                "Locker command",
                COMMAND_KIND.get(command.status, "unassigned"),
                facts,
            )
        )
    if parcel.bank_id is None:
        return steps
    compartment = records.compartments.get(parcel.compartment_id) if parcel.compartment_id else None
    label = compartment.label if compartment else None
    command_ids = {c.id for c in commands}
    events = bank_events_between(
        db_session,
        parcel.bank_id,
        DOOR_EVENTS,
        parcel.created_at,
        parcel.pickup_deadline + timedelta(days=1),
        limit=500,
    )
    for event in events:
        payload = event.payload
        mine = payload.get("parcel_id") == parcel.id or payload.get("command_id") in command_ids
        if not mine and not (label and payload.get("compartment") == label):
            continue
        steps.append(
            Step(
                event.locker_ts,
                "locker",
                "Locker event",
                EVENT_KIND.get(event.type, "transit"),
                [
                    ("Event", event.type),
                    ("Compartment", payload.get("compartment") or "—"),
                    ("Outcome", event.outcome),
                ],
            )
        )
    return steps


def _cold_steps(parcel: ParcelView, records: _Records) -> list[Step]:
    steps = []
    if parcel.van_minutes_over_limit:
        steps.append(
            Step(
                parcel.updated_at,
                "cold",
                "Cold chain: over the limit in the van",
                "failed",
                [("Minutes over", parcel.van_minutes_over_limit)],
            )
        )
    for flag in records.flags.get(parcel.id, []):
        steps.append(
            Step(
                flag.flagged_at,
                "cold",
                "Cold chain: locker zone too warm",
                "failed",
                [("Minutes out", flag.minutes_out)],
            )
        )
    return steps


def _sms_steps(db_session: Session, order: OrderView, parcel: ParcelView | None) -> list[Step]:
    steps = []
    for message in messages_of_resident(db_session, order.resident_id):
        params = message.params
        if params.get("order_id") != order.id:
            continue
        if parcel is not None and params.get("parcel_id") not in (None, parcel.id):
            continue
        facts: list[tuple[str, Any]] = [
            ("Template", message.template),
            ("Status", message.status),
            ("To", mask_phone(message.to_phone)),
        ]
        if message.provider_status:
            facts.append(("Provider", message.provider_status))
        if message.final_at:
            facts.append(("Receipt", message.final_at))
        if message.error_code or message.error_message:
            facts.append(("Error", f"{message.error_code or ''} {message.error_message or ''}"))
        if message.suppression_reason:
            facts.append(("Suppressed", message.suppression_reason))
        steps.append(
            Step(
                message.created_at,
                "sms",
                "SMS",
                SMS_KIND.get(message.status, "unassigned"),
                facts,
                link=f"/ops/messages?message_id={message.id}",
            )
        )
    return steps


def _money_steps(entries: list[LedgerLine]) -> list[Step]:
    return [
        Step(
            entry.created_at,
            "money",
            "Charged" if entry.kind == "charge" else "Refunded",
            "assigned" if entry.kind == "charge" else "late",
            [("Amount", money(entry.amount_minor, entry.currency)), ("Reason", entry.reason)],
        )
        for entry in entries
    ]


def _ending(order: OrderView, parcel: ParcelView | None) -> list[Step]:
    status = parcel.status if parcel is not None else order.status
    endings = {
        "collected": "Collected",
        "expired": "Expired: not collected by the deadline",
        "retrieved": "Taken back out of the locker after expiry",
        "undelivered": "Undelivered",
        "cancelled": "Cancelled",
        "group_failed": "Group buy failed",
    }
    if status not in endings:
        return []
    facts: list[tuple[str, Any]] = []
    if parcel is not None and parcel.failure_reason:
        facts.append(("Reason", parcel.failure_reason))
    at = parcel.updated_at if parcel is not None else order.updated_at
    return [Step(at, "end", endings[status], status_kind(status), facts)]


def load_chain(db_session: Session, order: OrderView, parcel: ParcelView | None) -> Chain:
    """The chain of an order (all its parcels) or of one of its parcels."""
    window = window_view(db_session, order.window_id)
    assert window is not None
    resident = resident_contacts(db_session, [order.resident_id])[order.resident_id]
    hood = neighborhood_names(db_session, [resident.neighborhood_id])[resident.neighborhood_id]
    lines = order_lines(db_session, order)
    parcels = parcel_views_of_order(db_session, order.id)
    entries = ledger_of_order(db_session, order.id)
    steps = _order_steps(order, lines, window)
    shown = [parcel] if parcel is not None else parcels
    records = _records(db_session, shown)
    for each in shown:
        parts = sum(p.temperature_class == each.temperature_class for p in parcels)
        steps.extend(_parcel_steps(db_session, each, parts, records))
    steps.extend(_sms_steps(db_session, order, parcel))
    steps.extend(_money_steps(entries))
    steps.extend(_ending(order, parcel))
    epoch = datetime.min.replace(tzinfo=UTC)
    steps.sort(key=lambda s: s.at or epoch)
    charged = sum(e.amount_minor for e in entries if e.kind == "charge")
    refunded = sum(e.amount_minor for e in entries if e.kind == "refund")
    return Chain(
        order, window, resident.phone, hood, lines, parcels, parcel, steps, charged, refunded
    )
