"""The world a played day happens in: the seeded city, its drivers' logins, the simulated
locker banks (keypads, faults, heartbeats), and the day's delivery windows."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from simulation.stack import Stack


class LockerFleet:
    """The simulated banks of the city, addressed by bank id (keypads and faults)."""

    def __init__(self, fleet: Any, codes: dict[int, str]) -> None:
        self.fleet = fleet
        self.codes = codes

    def _bank(self, bank_id: int) -> Any:
        return self.fleet.banks[self.codes[bank_id]]

    def enter_code(self, bank_id: int, code: str) -> str:
        return str(self._bank(bank_id).enter_code(code))

    def take_offline(self, bank_id: int) -> None:
        self._bank(bank_id).drop_link(24 * 3600.0)

    def bring_online(self, bank_id: int) -> None:
        self._bank(bank_id).restore_link()

    def heartbeat(self) -> None:
        """Every bank reports its state, as it would have during the time the clock skipped."""
        for bank in self.fleet.banks.values():
            if bank.connected:
                bank.publish_state()

    def online(self) -> int:
        return int(self.fleet.summary().get("online", 0))


def seed_city(
    *, name: str, neighborhoods: int, orders: int, residents: int | None, seed: int
) -> dict[str, Any]:
    """A city sized for the day, with no orders yet: the simulated residents place them."""
    from app.core.db import get_sessionmaker
    from app.seed.city import CitySpec, build_city
    from app.seed.fleet import DRIVER_PASSWORD

    spec = CitySpec(
        name=name,
        neighborhoods=neighborhoods,
        residents=residents or max(neighborhoods * 40, orders * 2),
        order_share=0.0,
        window_days=2,
    )
    with get_sessionmaker()() as db:
        summary = build_city(db_session=db, spec=spec, seed=seed)
        db.commit()
    return {
        "city_id": summary.city_id,
        "timezone": summary.timezone,
        "drivers": [(u, DRIVER_PASSWORD) for u in summary.driver_usernames],
        "first_phone": summary.first_resident_phone,
    }


def seed_demo_city() -> dict[str, Any]:
    from app.core.db import get_sessionmaker
    from app.seed.demo import DEMO_DRIVER, seed_demo
    from app.seed.fleet import DRIVER_PASSWORD

    with get_sessionmaker()() as db:
        result = seed_demo(db_session=db)
        db.commit()
    drivers = [DEMO_DRIVER, *result.fleet_drivers]
    return {
        "city_id": result.city_id,
        "timezone": result.summary.timezone if result.summary else "Asia/Shanghai",
        "drivers": [(u, DRIVER_PASSWORD) for u in drivers],
        "first_phone": result.resident_phone,
        "watch": result.resident_phone,
        "demo": result,
    }


def start_lockers(stack: Stack) -> LockerFleet:
    from app.core.db import get_sessionmaker
    from app.neighborhoods.models import Compartment, LockerBank
    from lockers.broker import parse_mqtt_url
    from lockers.config import get_locker_settings
    from lockers.simulator import BankSpec, Fleet

    with get_sessionmaker()() as db:
        banks = list(db.scalars(select(LockerBank).order_by(LockerBank.id)))
        layout: dict[int, list[tuple[str, str]]] = {}
        for bank_id, label, zone in db.execute(
            select(Compartment.bank_id, Compartment.label, Compartment.zone).order_by(
                Compartment.bank_id, Compartment.label
            )
        ):
            layout.setdefault(bank_id, []).append((label, str(getattr(zone, "value", zone))))
        codes = {b.id: b.code for b in banks}
    fleet = Fleet(
        parse_mqtt_url(stack.mqtt_url),
        prefix=get_locker_settings().topic_prefix,
        heartbeat_s=30.0,
        auto_close_s=0.02,
    )
    for bank_id, code in codes.items():
        fleet.add_bank(BankSpec(code=code, compartments=layout.get(bank_id, [])))
    fleet.start()
    if not fleet.wait_online(timeout=60):
        raise RuntimeError("not every simulated locker bank came online")
    return LockerFleet(fleet, codes)


def windows_of_day(city_id: int, start: datetime) -> list[Any]:
    from app.core.db import get_sessionmaker
    from app.windows.models import DeliveryWindow

    with get_sessionmaker()() as db:
        windows = list(
            db.scalars(
                select(DeliveryWindow)
                .where(
                    DeliveryWindow.city_id == city_id,
                    DeliveryWindow.cutoff_at > start,
                    DeliveryWindow.cutoff_at < start + timedelta(days=1),
                )
                .order_by(DeliveryWindow.cutoff_at)
            )
        )
        db.expunge_all()
    return windows
