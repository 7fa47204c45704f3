"""What a message says, loaded at send time from the ids it keeps (codes derived, not stored)."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.cities.models import City
from app.core.settings import get_settings
from app.neighborhoods.models import Compartment, LockerBank
from logistics import parcels as logistics_parcels
from logistics.parcels import Parcel, ParcelStatus
from notifications import render
from notifications.models import Message
from notifications.render import Rendered, format_local_time, format_money


class Obsolete(Exception):
    """The message no longer makes sense (parcel collected, code revoked): suppress it."""


def _timezone(db_session: Session, message: Message) -> str:
    city = db_session.get(City, message.city_id) if message.city_id is not None else None
    return city.timezone if city is not None else get_settings().city_timezone


def _parcel(db_session: Session, params: dict[str, Any]) -> Parcel:
    parcel_id = int(params["parcel_id"])
    parcel = logistics_parcels.get_parcel(db_session=db_session, parcel_id=parcel_id)
    if parcel is None:
        raise Obsolete("parcel_gone")
    return parcel


def _bank(db_session: Session, bank_id: Any) -> LockerBank:
    bank = db_session.get(LockerBank, int(bank_id)) if bank_id is not None else None
    if bank is None:
        raise Obsolete("bank_gone")
    return bank


def pickup_code(db_session: Session, parcel_id: int) -> str | None:
    """The parcel's clear pickup code while it is usable (derived by the lockers package)."""
    from lockers import codes

    return codes.pickup_code_for_parcel(db_session=db_session, parcel_id=parcel_id)


def _money(params: dict[str, Any], name: str) -> str:
    return format_money(int(params.get(name) or 0), str(params.get("currency") or "CNY"))


def _order_amounts(db_session: Session, message: Message) -> dict[str, Any]:
    return {
        "order_id": message.params["order_id"],
        "charged": _money(message.params, "charged_minor"),
        "refunded": _money(message.params, "refunded_minor"),
    }


def _locker_notice(db_session: Session, message: Message, *, reminder: bool) -> dict[str, Any]:
    parcel = _parcel(db_session, message.params)
    if parcel.status != ParcelStatus.READY_FOR_PICKUP and reminder:
        raise Obsolete(f"parcel_{parcel.status.value}")
    if parcel.bank_id is None or parcel.compartment_id is None:
        raise Obsolete("parcel_not_in_locker")
    bank = _bank(db_session, parcel.bank_id)
    compartment = db_session.get(Compartment, parcel.compartment_id)
    code = pickup_code(db_session, parcel.id)
    if code is None or compartment is None:
        raise Obsolete("no_live_code")
    return {
        "order_id": parcel.order_id,
        "bank_name": bank.name,
        "address": bank.address or bank.name,
        "compartment": compartment.label,
        "code": code,
        "deadline": format_local_time(
            parcel.pickup_deadline, _timezone(db_session, message), message.language
        ),
    }


def _ready(db_session: Session, message: Message) -> dict[str, Any]:
    return _locker_notice(db_session, message, reminder=False)


def _reminder(db_session: Session, message: Message) -> dict[str, Any]:
    return _locker_notice(db_session, message, reminder=True)


def _expired(db_session: Session, message: Message) -> dict[str, Any]:
    parcel = _parcel(db_session, message.params)
    bank = _bank(db_session, message.params.get("bank_id") or parcel.bank_id)
    return {"order_id": parcel.order_id, "bank_name": bank.name}


def _overflow(db_session: Session, message: Message) -> dict[str, Any]:
    parcel = _parcel(db_session, message.params)
    from_bank = _bank(db_session, message.params["from_bank_id"])
    to_bank = _bank(db_session, message.params["to_bank_id"])
    return {
        "order_id": parcel.order_id,
        "from_bank": from_bank.name,
        "to_bank": to_bank.name,
        "address": to_bank.address or to_bank.name,
    }


def _cold_chain(db_session: Session, message: Message) -> dict[str, Any]:
    return {"order_id": message.params["order_id"], "minutes": int(message.params["minutes"])}


def _order_only(db_session: Session, message: Message) -> dict[str, Any]:
    return {"order_id": message.params["order_id"]}


def _refund_only(db_session: Session, message: Message) -> dict[str, Any]:
    return {
        "order_id": message.params["order_id"],
        "refunded": _money(message.params, "refunded_minor"),
    }


def _extended(db_session: Session, message: Message) -> dict[str, Any]:
    parcel = _parcel(db_session, message.params)
    if parcel.status != ParcelStatus.READY_FOR_PICKUP:
        raise Obsolete(f"parcel_{parcel.status.value}")
    bank = _bank(db_session, parcel.bank_id)
    deadline = format_local_time(
        parcel.pickup_deadline, _timezone(db_session, message), message.language
    )
    return {"order_id": parcel.order_id, "bank_name": bank.name, "deadline": deadline}


def _nudge(db_session: Session, message: Message) -> dict[str, Any]:
    product = db_session.get(Product, int(message.params["product_id"]))
    name = product.name if product is not None else ""
    if product is not None and message.language == "zh" and product.name_zh:
        name = product.name_zh
    cutoff = datetime.fromisoformat(str(message.params["cutoff_at"]))
    return {
        "gap": message.params["gap"],
        "product": name,
        "price": _money(message.params, "price_minor"),
        "cutoff": format_local_time(cutoff, _timezone(db_session, message), message.language),
    }


def _plain(db_session: Session, message: Message) -> dict[str, Any]:
    return dict(message.params)


LOADERS: dict[str, Callable[[Session, Message], dict[str, Any]]] = {
    "group_formed": _order_amounts,
    "group_formed_refund": _order_amounts,
    "group_failed": _order_amounts,
    "parcel_ready": _ready,
    "pickup_reminder": _reminder,
    "parcel_expired": _expired,
    "parcel_overflow": _overflow,
    "cold_chain_flag": _cold_chain,
    "parcel_undelivered": _order_only,
    "parcel_not_routed": _order_only,
    "undelivered_refund": _refund_only,
    "deadline_extended": _extended,
    "nudge_minimum": _nudge,
    "nudge_tier": _nudge,
    "help_reply": _plain,
    "stop_reply": _plain,
    "start_reply": _plain,
}


def prefetch(*, db_session: Session, messages: Sequence[Message]) -> list[Any]:
    """Load what a batch of messages renders from in a few queries (keep the answer alive
    while rendering: the session only holds objects weakly)."""
    parcel_ids = {int(m.params["parcel_id"]) for m in messages if "parcel_id" in m.params}
    city_ids = {m.city_id for m in messages if m.city_id is not None}
    loaded: list[Any] = []
    if city_ids:
        loaded += db_session.scalars(select(City).where(City.id.in_(city_ids))).all()
    if not parcel_ids:
        return loaded
    parcels = logistics_parcels.parcels_by_ids(db_session=db_session, parcel_ids=list(parcel_ids))
    bank_ids = {p.bank_id for p in parcels if p.bank_id is not None}
    for message in messages:
        for name in ("bank_id", "from_bank_id", "to_bank_id"):
            if message.params.get(name) is not None:
                bank_ids.add(int(message.params[name]))
    compartment_ids = {p.compartment_id for p in parcels if p.compartment_id is not None}
    loaded += parcels
    loaded += db_session.scalars(select(LockerBank).where(LockerBank.id.in_(bank_ids))).all()
    loaded += db_session.scalars(
        select(Compartment).where(Compartment.id.in_(compartment_ids))
    ).all()
    return loaded


def render_message(*, db_session: Session, message: Message) -> Rendered:
    """The message's text now, in the resident's language; Obsolete if it no longer applies."""
    params = LOADERS[message.template](db_session, message)
    return render.render(message.template, message.language, params)
