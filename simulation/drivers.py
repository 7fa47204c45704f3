"""Simulated drivers: each starts their published route at its departure time, drives stop to
stop on the system's own ETAs, deposits through the locker protocol, marks what cannot go in
as failed with the reason, departs, and later takes expired parcels back out.

A few things go wrong on purpose, as they do on real days: one van leaves late, and one locker
bank drops off the network while a van is on its way to it.
"""

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from simulation.api import ApiError, Handset

LOADED = ("reserved", "loaded")
ROUTE_POLL = timedelta(minutes=30)  # how often a driver without a route checks the app
# The locker's refusal (error code of the 409) -> the reason the driver gives.
REFUSAL_REASONS = {
    "locker_offline": "locker_offline",
    "compartment_unavailable": "compartment_broken",
}


class LockerFaults(Protocol):
    """What can go wrong at a locker bank, and its keypad and doors."""

    def take_offline(self, bank_id: int) -> None: ...

    def bring_online(self, bank_id: int) -> None: ...


def _staff_login(username: str, password: str) -> Callable[[Handset], None]:
    def login(handset: Handset) -> None:
        body = handset.post("/auth/staff/token", json={"username": username, "password": password})
        handset.token = body["access_token"]

    return login


def error_type(body: Any) -> str:
    """The machine-readable `type` of an error answer (the first detail's)."""
    try:
        return str(body["detail"][0]["type"])
    except (KeyError, IndexError, TypeError):
        return ""


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class DriverState:
    username: str
    password: str
    handset: Handset
    routes: dict[int, dict[str, Any]] = field(default_factory=dict)
    due: datetime | None = None


@dataclass
class Crew:
    """All drivers of the day."""

    base_url: str
    logins: list[tuple[str, str]]
    faults: LockerFaults
    rng: random.Random
    late_van_minutes: int = 35
    offline_bank_for: timedelta = timedelta(hours=3)
    stats: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    _drivers: list[DriverState] = field(default_factory=list)
    _late_route: int | None = None
    _offline: dict[int, datetime] = field(default_factory=dict)
    _fault_done: bool = False

    def start(self) -> None:
        for n, (username, password) in enumerate(self.logins):
            handset = Handset(self.base_url, address=f"10.254.{n // 250}.{n % 250 + 1}")
            handset.relogin = _staff_login(username, password)
            handset.relogin(handset)
            self._drivers.append(DriverState(username, password, handset))

    def close(self) -> None:
        for driver in self._drivers:
            driver.handset.close()

    def next_moment(self, after: datetime) -> datetime | None:
        moments = [d.due for d in self._drivers if d.due is not None and d.due > after]
        moments += [until for until in self._offline.values() if until > after]
        return min(moments) if moments else None

    def act(self, now: datetime) -> bool:
        """Every driver does what is due; True while some deposit is still in flight."""
        for bank_id, until in list(self._offline.items()):
            if until <= now:
                self.faults.bring_online(bank_id)
                del self._offline[bank_id]
                self.stats["banks_back_online"] += 1
        busy = False
        for driver in self._drivers:
            try:
                busy |= self._drive(driver, now)
            except ApiError as exc:
                self._error(f"driver {driver.username}: {exc}")
        return busy

    # --- one driver ---------------------------------------------------------------------------

    def _drive(self, driver: DriverState, now: datetime) -> bool:
        if driver.due is not None and driver.due > now:
            return False
        routes = driver.handset.get("/driver/routes/today")
        driver.due = None
        busy = False
        for route in sorted(routes, key=lambda r: r["planned_departure"]):
            if route["status"] == "published":
                busy |= self._maybe_start(driver, route, now)
                break  # one route at a time: the next waits for this one
            if route["status"] == "in_progress":
                busy |= self._progress(driver, route, now)
                break
        if driver.due is None:
            driver.due = now + ROUTE_POLL  # nothing to drive yet: look at the app again later
        return busy

    def _later(self, driver: DriverState, at: datetime) -> None:
        if driver.due is None or at < driver.due:
            driver.due = at

    def _maybe_start(self, driver: DriverState, route: dict[str, Any], now: datetime) -> bool:
        departure = parse_time(route["planned_departure"])
        if self._late_route is None:
            self._late_route = route["id"]
        if route["id"] == self._late_route:
            departure += timedelta(minutes=self.late_van_minutes)
        if now < departure:
            self._later(driver, departure)
            return False
        started = driver.handset.post(f"/driver/routes/{route['id']}/start")
        self.stats["routes_started"] += 1
        if route["id"] == self._late_route:
            self.stats["late_vans"] += 1
        return self._progress(driver, started, now)

    def _progress(self, driver: DriverState, route: dict[str, Any], now: datetime) -> bool:
        rid = route["id"]
        for stop in sorted(route["stops"], key=lambda s: s["sequence"]):
            if stop["departed_at"] is not None or stop["status"] in ("served", "failed"):
                continue
            if stop["arrived_at"] is None:
                eta = parse_time(stop["eta"])
                self._maybe_fail_bank(stop, now)
                if now < eta:
                    self._later(driver, eta)
                    return False
                driver.handset.post(f"/driver/routes/{rid}/stops/{stop['id']}/arrive")
                self.stats["arrivals"] += 1
            in_flight = self._deposit_all(driver, rid, stop)
            if in_flight:
                self._later(driver, now)
                return True
            etd = parse_time(stop["etd"])
            if now < etd:
                self._later(driver, etd)
                return False
            driver.handset.post(f"/driver/routes/{rid}/stops/{stop['id']}/depart")
            self.stats["departures"] += 1
            self._later(driver, now)
            return True
        return False

    def _deposit_all(self, driver: DriverState, route_id: int, stop: dict[str, Any]) -> bool:
        """Open a door for each parcel still aboard; True while one is still being deposited."""
        fresh = driver.handset.get(f"/driver/routes/{route_id}")
        stop = next(s for s in fresh["stops"] if s["id"] == stop["id"])
        in_flight = False
        for parcel in stop["parcels"]:
            if parcel["status"] not in LOADED:
                continue
            status, body = driver.handset.call(
                "POST", f"/lockers/parcels/{parcel['parcel_id']}/deposit", expect=(202, 409)
            )
            if status == 202:
                in_flight = True
                if body.get("status") in ("queued", "sent"):
                    self.stats["deposit_doors_opened"] += 0
                continue
            self._fail(driver, route_id, stop["id"], parcel["parcel_id"], body)
        return in_flight

    def _fail(
        self, driver: DriverState, route_id: int, stop_id: int, parcel_id: int, refusal: Any
    ) -> None:
        code = error_type(refusal)
        reason = REFUSAL_REASONS.get(code, "other")
        self.stats[f"deposit_refused_{code or 'unknown'}"] += 1
        status, _ = driver.handset.call(
            "POST",
            f"/driver/routes/{route_id}/stops/{stop_id}/parcels/{parcel_id}/fail",
            json={"reason": reason, **({"note": code[:120]} if reason == "other" else {})},
            expect=(200, 409),
        )
        # 409: the locker reported the parcel in after all (its answer was late); the next
        # look at the route shows it deposited.
        self.stats["parcels_failed" if status == 200 else "fail_overtaken_by_deposit"] += 1

    def _maybe_fail_bank(self, stop: dict[str, Any], now: datetime) -> None:
        """Once a day, the bank a van heads for next drops off the network."""
        if self._fault_done or self.stats["arrivals"] < 3:
            return
        self._fault_done = True
        self.faults.take_offline(stop["bank_id"])
        self._offline[stop["bank_id"]] = now + self.offline_bank_for
        self.stats["banks_taken_offline"] += 1

    # --- expired parcels --------------------------------------------------------------------

    def retrieve_expired(self) -> int:
        """Each driver takes the expired parcels they delivered back out of the lockers."""
        count = 0
        for driver in self._drivers:
            try:
                for item in driver.handset.get("/lockers/retrievals"):
                    status, _ = driver.handset.call(
                        "POST",
                        f"/lockers/parcels/{item['parcel_id']}/retrieve",
                        expect=(202, 403, 409),
                    )
                    count += status == 202
            except ApiError as exc:
                self._error(f"driver {driver.username} retrieving: {exc}")
        self.stats["retrievals"] += count
        return count

    def _error(self, message: str) -> None:
        self.stats["errors"] += 1
        if len(self.errors) < 50:
            self.errors.append(message)
