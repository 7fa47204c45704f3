"""What a message says, loaded at send time from the ids it keeps (codes derived, not stored)."""

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.catalog import queries as catalog_queries
from app.cities import queries as cities_queries
from app.core.settings import get_settings
from app.neighborhoods import queries as neighborhoods_queries
from app.neighborhoods.queries import BankAddress
from logistics import parcels as logistics_parcels
from logistics.parcels import Parcel, ParcelStatus
from notifications import render
from notifications.models import Message
from notifications.render import Rendered, format_local_time, format_money


class Obsolete(Exception):
    """The message no longer makes sense (parcel collected, code revoked): suppress it."""


class Lookups:
    """What messages render from, read from their owners in batches and kept for the batch."""

    def __init__(self, db_session: Session) -> None:
        self.db_session = db_session
        self.timezones: dict[int, str] = {}
        self.banks: dict[int, BankAddress] = {}
        self.compartments: dict[int, str] = {}
        self.parcels: list[Parcel] = []  # held so the session keeps them loaded

    def load_cities(self, city_ids: Collection[int]) -> None:
        missing = set(city_ids) - set(self.timezones)
        for city_id, locale in cities_queries.city_locales(self.db_session, missing).items():
            self.timezones[city_id] = locale.timezone

    def load_banks(self, bank_ids: Collection[int]) -> None:
        missing = set(bank_ids) - set(self.banks)
        self.banks.update(neighborhoods_queries.bank_addresses(self.db_session, missing))

    def load_compartments(self, compartment_ids: Collection[int]) -> None:
        missing = set(compartment_ids) - set(self.compartments)
        labels = neighborhoods_queries.compartment_labels(self.db_session, missing)
        self.compartments.update({c_id: each.label for c_id, each in labels.items()})

    def timezone(self, city_id: int | None) -> str | None:
        if city_id is None:
            return None
        self.load_cities([city_id])
        return self.timezones.get(city_id)

    def bank(self, bank_id: int) -> BankAddress | None:
        self.load_banks([bank_id])
        return self.banks.get(bank_id)

    def compartment(self, compartment_id: int) -> str | None:
        self.load_compartments([compartment_id])
        return self.compartments.get(compartment_id)


def _timezone(lookups: Lookups, message: Message) -> str:
    return lookups.timezone(message.city_id) or get_settings().city_timezone


def _parcel(db_session: Session, params: dict[str, Any]) -> Parcel:
    parcel_id = int(params["parcel_id"])
    parcel = logistics_parcels.get_parcel(db_session=db_session, parcel_id=parcel_id)
    if parcel is None:
        raise Obsolete("parcel_gone")
    return parcel


def _bank(lookups: Lookups, bank_id: Any) -> BankAddress:
    bank = lookups.bank(int(bank_id)) if bank_id is not None else None
    if bank is None:
        raise Obsolete("bank_gone")
    return bank


def pickup_code(db_session: Session, parcel_id: int) -> str | None:
    """The parcel's clear pickup code while it is usable (derived by the lockers package)."""
    from lockers import codes

    return codes.pickup_code_for_parcel(db_session=db_session, parcel_id=parcel_id)


def _money(params: dict[str, Any], name: str) -> str:
    return format_money(int(params.get(name) or 0), str(params.get("currency") or "CNY"))


def _order_amounts(lookups: Lookups, message: Message) -> dict[str, Any]:
    return {
        "order_id": message.params["order_id"],
        "charged": _money(message.params, "charged_minor"),
        "refunded": _money(message.params, "refunded_minor"),
    }


def _locker_notice(lookups: Lookups, message: Message, *, reminder: bool) -> dict[str, Any]:
    parcel = _parcel(lookups.db_session, message.params)
    if parcel.status != ParcelStatus.READY_FOR_PICKUP and reminder:
        raise Obsolete(f"parcel_{parcel.status.value}")
    if parcel.bank_id is None or parcel.compartment_id is None:
        raise Obsolete("parcel_not_in_locker")
    bank = _bank(lookups, parcel.bank_id)
    compartment = lookups.compartment(parcel.compartment_id)
    code = pickup_code(lookups.db_session, parcel.id)
    if code is None or compartment is None:
        raise Obsolete("no_live_code")
    return {
        "order_id": parcel.order_id,
        "bank_name": bank.name,
        "address": bank.address or bank.name,
        "compartment": compartment,
        "code": code,
        "deadline": format_local_time(
            parcel.pickup_deadline, _timezone(lookups, message), message.language
        ),
    }


def _ready(lookups: Lookups, message: Message) -> dict[str, Any]:
    return _locker_notice(lookups, message, reminder=False)


def _reminder(lookups: Lookups, message: Message) -> dict[str, Any]:
    return _locker_notice(lookups, message, reminder=True)


def _expired(lookups: Lookups, message: Message) -> dict[str, Any]:
    parcel = _parcel(lookups.db_session, message.params)
    bank = _bank(lookups, message.params.get("bank_id") or parcel.bank_id)
    return {"order_id": parcel.order_id, "bank_name": bank.name}


def _overflow(lookups: Lookups, message: Message) -> dict[str, Any]:
    parcel = _parcel(lookups.db_session, message.params)
    from_bank = _bank(lookups, message.params["from_bank_id"])
    to_bank = _bank(lookups, message.params["to_bank_id"])
    return {
        "order_id": parcel.order_id,
        "from_bank": from_bank.name,
        "to_bank": to_bank.name,
        "address": to_bank.address or to_bank.name,
    }


def _cold_chain(lookups: Lookups, message: Message) -> dict[str, Any]:
    return {"order_id": message.params["order_id"], "minutes": int(message.params["minutes"])}


def _order_only(lookups: Lookups, message: Message) -> dict[str, Any]:
    return {"order_id": message.params["order_id"]}


def _refund_only(lookups: Lookups, message: Message) -> dict[str, Any]:
    return {
        "order_id": message.params["order_id"],
        "refunded": _money(message.params, "refunded_minor"),
    }


def _extended(lookups: Lookups, message: Message) -> dict[str, Any]:
    parcel = _parcel(lookups.db_session, message.params)
    if parcel.status != ParcelStatus.READY_FOR_PICKUP:
        raise Obsolete(f"parcel_{parcel.status.value}")
    bank = _bank(lookups, parcel.bank_id)
    deadline = format_local_time(
        parcel.pickup_deadline, _timezone(lookups, message), message.language
    )
    return {"order_id": parcel.order_id, "bank_name": bank.name, "deadline": deadline}


def _nudge(lookups: Lookups, message: Message) -> dict[str, Any]:
    product_id = int(message.params["product_id"])
    product = catalog_queries.bilingual_product_names(lookups.db_session, [product_id]).get(
        product_id
    )
    name = product.name if product is not None else ""
    if product is not None and message.language == "zh" and product.name_zh:
        name = product.name_zh
    cutoff = datetime.fromisoformat(str(message.params["cutoff_at"]))
    return {
        "gap": message.params["gap"],
        "product": name,
        "price": _money(message.params, "price_minor"),
        "cutoff": format_local_time(cutoff, _timezone(lookups, message), message.language),
    }


def _plain(lookups: Lookups, message: Message) -> dict[str, Any]:
    return dict(message.params)


LOADERS: dict[str, Callable[[Lookups, Message], dict[str, Any]]] = {
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


def prefetch(*, db_session: Session, messages: Sequence[Message]) -> Lookups:
    """Load what a batch of messages renders from in a few queries (keep the answer alive
    while rendering, and render with it: the session only holds objects weakly)."""
    lookups = Lookups(db_session)
    parcel_ids = {int(m.params["parcel_id"]) for m in messages if "parcel_id" in m.params}
    lookups.load_cities({m.city_id for m in messages if m.city_id is not None})
    if not parcel_ids:
        return lookups
    parcels = logistics_parcels.parcels_by_ids(db_session=db_session, parcel_ids=list(parcel_ids))
    bank_ids = {p.bank_id for p in parcels if p.bank_id is not None}
    for message in messages:
        for name in ("bank_id", "from_bank_id", "to_bank_id"):
            if message.params.get(name) is not None:
                bank_ids.add(int(message.params[name]))
    lookups.parcels = parcels
    lookups.load_banks(bank_ids)
    lookups.load_compartments({p.compartment_id for p in parcels if p.compartment_id is not None})
    return lookups


def render_message(
    *, db_session: Session, message: Message, lookups: Lookups | None = None
) -> Rendered:
    """The message's text now, in the resident's language; Obsolete if it no longer applies."""
    params = LOADERS[message.template](lookups or Lookups(db_session), message)
    return render.render(message.template, message.language, params)
