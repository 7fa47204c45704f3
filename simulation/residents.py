"""Simulated residents: they log in with the code from their SMS, browse their neighborhood's
group buys, order (some share the group with a neighbour, some cancel), then collect with the
pickup code from their SMS; a few extend, a few never come."""

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from simulation.api import ApiError, Handset, idempotency_key
from simulation.phones import PhoneNetwork


class Keypads(Protocol):
    """The locker banks' keypads, as a resident standing in front of one uses them."""

    def enter_code(self, bank_id: int, code: str) -> str: ...


@dataclass(frozen=True)
class Person:
    resident_id: int
    phone: str
    neighborhood_id: int


@dataclass
class Intent:
    """What one resident will do today, drawn once from the day's seed."""

    person: Person
    window_id: int
    order_at: datetime
    cancel_after: timedelta | None
    shares: bool
    collect_after: timedelta | None  # None: never comes
    extends: bool
    order_id: int | None = None
    done: bool = False


@dataclass
class PendingPickup:
    intent: Intent
    order_id: int
    code: str
    go_at: datetime
    tries: int = 0


@dataclass
class Crowd:
    """All simulated residents of the day, acting when the clock reaches their moments."""

    base_url: str
    phones: PhoneNetwork
    keypads: Keypads
    intents: list[Intent]
    rng: random.Random
    stats: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    _handsets: dict[int, Handset] = field(default_factory=dict)
    _pickups: dict[tuple[int, str], PendingPickup] = field(default_factory=dict)
    _cancels: list[tuple[datetime, Intent]] = field(default_factory=list)
    _collected: set[tuple[int, str]] = field(default_factory=set)
    _phone_index: dict[str, list[Intent]] = field(default_factory=dict)

    def close(self) -> None:
        for handset in self._handsets.values():
            handset.close()

    # --- the clock moves ----------------------------------------------------------------

    def act(self, now: datetime) -> None:
        """Everything due by `now`: orders, cancellations, noticing SMS, collecting."""
        for intent in self.intents:
            if intent.order_id is None and not intent.done and intent.order_at <= now:
                self._order(intent, now)
        for at, intent in list(self._cancels):
            if at <= now:
                self._cancels.remove((at, intent))
                self._cancel(intent)
        self._notice_sms(now)
        for key, pickup in list(self._pickups.items()):
            if pickup.go_at <= now and self._collect(pickup, now):
                del self._pickups[key]

    def next_moment(self, after: datetime) -> datetime | None:
        """The earliest moment after `after` at which someone has something planned."""
        moments = [i.order_at for i in self.intents if i.order_id is None and not i.done]
        moments += [at for at, _ in self._cancels] + [p.go_at for p in self._pickups.values()]
        later = [m for m in moments if m > after]
        return min(later) if later else None

    # --- ordering -------------------------------------------------------------------------

    def _handset(self, person: Person) -> Handset:
        handset = self._handsets.get(person.resident_id)
        if handset is None:
            rid = person.resident_id
            address = f"10.{(rid >> 16) & 255}.{(rid >> 8) & 255}.{rid & 255}"
            handset = Handset(self.base_url, address=address)
            handset.relogin = lambda h: self._login(h, person)
            self._handsets[person.resident_id] = handset
        if handset.token is None:
            self._login(handset, person)
        return handset

    def _login(self, handset: Handset, person: Person) -> None:
        """Ask for a code, read it from the SMS, exchange it for a token."""
        handset.token = None
        handset.post("/auth/resident/code", json={"phone": person.phone}, expect=(202,))
        code = self.phones.login_code(person.phone)
        if code is None:
            raise RuntimeError(f"no login SMS reached {person.phone}")
        body = handset.post("/auth/resident/token", json={"phone": person.phone, "code": code})
        handset.token = body["access_token"]
        self.stats["logins"] += 1

    def _order(self, intent: Intent, now: datetime) -> None:
        try:
            handset = self._handset(intent.person)
            catalog = handset.get("/catalog", params={"window_id": intent.window_id})
            window = next((w for w in catalog["windows"] if w["id"] == intent.window_id), None)
            if window is None or not window["is_open"]:
                intent.done = True
                self.stats["too_late"] += 1
                return
            lines = self._basket(window["group_buys"])
            if not lines:
                intent.done = True
                self.stats["nothing_left"] += 1
                return
            body = {"window_id": intent.window_id, "lines": lines}
            status, order = handset.call(
                "POST",
                "/orders",
                json=body,
                headers={"Idempotency-Key": idempotency_key()},
                expect=(201, 409),
            )
        except ApiError as exc:
            intent.done = True
            self._error(f"order by resident {intent.person.resident_id}: {exc}")
            return
        if status == 409:
            intent.done = True
            self.stats["orders_refused"] += 1
            return
        intent.order_id = int(order["id"])
        self.stats["orders_placed"] += 1
        if intent.shares:
            self._share(handset, intent.person, lines[0]["group_buy_id"])
        if intent.cancel_after is not None:
            self._cancels.append((now + intent.cancel_after, intent))

    def _basket(self, group_buys: list[dict[str, Any]]) -> list[dict[str, int]]:
        """One to three lines, favouring the neighbourhood's popular products."""
        open_ones = [g for g in group_buys if g["stock_left"] is None or g["stock_left"] > 0]
        if not open_ones:
            return []
        weights = [1.0 / (rank + 1) for rank in range(len(open_ones))]
        chosen: dict[int, int] = {}
        for _ in range(self.rng.choice((1, 1, 2, 2, 3))):
            gb = self.rng.choices(open_ones, weights=weights)[0]
            limit = gb["stock_left"] if gb["stock_left"] is not None else 3
            chosen[gb["id"]] = min(limit, chosen.get(gb["id"], 0) + self.rng.choice((1, 1, 2)))
        return [{"group_buy_id": gid, "quantity": q} for gid, q in chosen.items() if q > 0]

    def _share(self, handset: Handset, person: Person, group_buy_id: int) -> None:
        """Send the group's link to a neighbour, who opens it signed in on their own phone."""
        try:
            link = handset.get(f"/group-buys/{group_buy_id}/share")
            url = str(link["url"])
            if not url.startswith(self.base_url):
                self._error(f"share link {url} does not point at the server {self.base_url}")
                return
            neighbours = [
                i.person
                for i in self.intents
                if i.person.neighborhood_id == person.neighborhood_id and i.person != person
            ]
            if not neighbours:
                return
            neighbour = self._handset(self.rng.choice(neighbours))
            shown = neighbour.get(url[len(self.base_url) :])
            if shown.get("id", group_buy_id) != group_buy_id:
                self._error(f"share link of group buy {group_buy_id} showed {shown.get('id')}")
            self.stats["shared"] += 1
        except ApiError as exc:
            self._error(f"share of group buy {group_buy_id}: {exc}")

    def _cancel(self, intent: Intent) -> None:
        handset = self._handset(intent.person)
        try:
            status, _ = handset.call("POST", f"/orders/{intent.order_id}/cancel", expect=(200, 409))
        except ApiError as exc:
            self._error(f"cancel of order {intent.order_id}: {exc}")
            return
        self.stats["cancelled" if status == 200 else "cancel_refused"] += 1
        if status == 200:
            intent.collect_after = None

    # --- collecting -----------------------------------------------------------------------

    def _notice_sms(self, now: datetime) -> None:
        for phone in self.phones.phones_with_news():
            for intent in self._by_phone().get(phone, ()):
                if intent.order_id is None or intent.collect_after is None:
                    continue
                for order_id, code in self.phones.pickup_messages(phone):
                    key = (order_id, code)
                    if order_id != intent.order_id or key in self._pickups:
                        continue
                    if key in self._collected:
                        continue
                    go_at = now + intent.collect_after
                    self._pickups[key] = PendingPickup(intent, order_id, code, go_at)

    def _by_phone(self) -> dict[str, list[Intent]]:
        if not self._phone_index:
            for intent in self.intents:
                self._phone_index.setdefault(intent.person.phone, []).append(intent)
        return self._phone_index

    def _collect(self, pickup: PendingPickup, now: datetime) -> bool:
        """Walk to the locker and type the code; True once the door opened (or never will)."""
        handset = self._handset(pickup.intent.person)
        parcels = handset.get("/lockers/my-parcels")
        mine = [p for p in parcels if p["order_id"] == pickup.order_id]
        waiting = [p for p in mine if p["status"] == "ready_for_pickup"]
        if pickup.intent.extends and waiting and not pickup.tries:
            for parcel in waiting:
                if parcel.get("can_extend"):
                    status, _ = handset.call(
                        "POST", f"/lockers/parcels/{parcel['parcel_id']}/extend", expect=(200, 409)
                    )
                    self.stats["extended" if status == 200 else "extend_refused"] += 1
            pickup.tries += 1
            pickup.go_at = now + timedelta(hours=self.rng.uniform(2, 6))
            return False
        for bank_id in sorted({p["bank_id"] for p in waiting if p.get("bank_id")}):
            answer = self.keypads.enter_code(bank_id, pickup.code)
            if answer.startswith("opened"):
                self.stats["collected"] += 1
                self._collected.add((pickup.order_id, pickup.code))
                return True
        pickup.tries += 1
        if not waiting or pickup.tries >= 3:
            self.stats["collect_gave_up" if waiting else "nothing_to_collect"] += 1
            self._collected.add((pickup.order_id, pickup.code))
            return True
        pickup.go_at = now + timedelta(minutes=20)
        return False

    def _error(self, message: str) -> None:
        self.stats["errors"] += 1
        if len(self.errors) < 50:
            self.errors.append(message)
