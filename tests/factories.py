"""Factories for domain objects: sensible defaults, every field overridable."""

import itertools
import secrets
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.cities.models import City, Depot, WindowSlot
from app.core.enums import CompartmentSize, Language, TemperatureClass
from app.core.security import hash_password
from app.groupbuys.models import GroupBuy, PriceTier
from app.neighborhoods.models import Compartment, LockerBank, Neighborhood
from app.orders.models import Order, OrderLine
from app.residents.models import Resident
from app.staff.models import StaffRole, StaffUser
from app.windows.models import DeliveryWindow

_seq = itertools.count(1)
STAFF_PASSWORD = "correct horse battery staple"
VOLUME_BY_SIZE = {CompartmentSize.S: 20_000, CompartmentSize.M: 45_000, CompartmentSize.L: 90_000}


def _n() -> int:
    return next(_seq)


@cache
def staff_password_hash() -> str:
    """One argon2 hash of STAFF_PASSWORD for every factory-made account (hashing is slow)."""
    return hash_password(STAFF_PASSWORD)


class Factory:
    """Creates and flushes objects in one session; related objects are made on demand."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self._city: City | None = None

    def _save(self, obj: Any) -> Any:
        self.db.add(obj)
        self.db.flush()
        return obj

    def city(self, **kw: Any) -> City:
        n = _n()
        fields: dict[str, Any] = dict(
            name=f"City {n}", timezone="Asia/Shanghai", currency="CNY", country_code="CN"
        )
        fields.update(kw)
        return self._save(City(**fields))

    def default_city(self) -> City:
        if self._city is None:
            self._city = self.city()
        return self._city

    def depot(self, city: City | None = None, **kw: Any) -> Depot:
        fields: dict[str, Any] = dict(name=f"Depot {_n()}", lat=31.23, lon=121.47)
        fields.update(kw)
        return self._save(Depot(city_id=(city or self.default_city()).id, **fields))

    def window_slot(self, city: City | None = None, **kw: Any) -> WindowSlot:
        fields: dict[str, Any] = dict(
            name="morning", ready_by_local=time(11, 0), cutoff_hours_before=5, pickup_hours_after=24
        )
        fields.update(kw)
        return self._save(WindowSlot(city_id=(city or self.default_city()).id, **fields))

    def neighborhood(self, city: City | None = None, **kw: Any) -> Neighborhood:
        n = _n()
        fields: dict[str, Any] = dict(name=f"Neighborhood {n}", lat=31.2 + n * 1e-4, lon=121.4)
        fields.update(kw)
        return self._save(Neighborhood(city_id=(city or self.default_city()).id, **fields))

    def locker_bank(self, neighborhood: Neighborhood | None = None, **kw: Any) -> LockerBank:
        hood = neighborhood or self.neighborhood()
        n = _n()
        fields: dict[str, Any] = dict(
            code=f"bank-{n}", name=f"Locker {n}", lat=hood.lat, lon=hood.lon
        )
        fields.update(kw)
        return self._save(LockerBank(neighborhood_id=hood.id, **fields))

    def compartment(
        self,
        bank: LockerBank | None = None,
        *,
        size: CompartmentSize = CompartmentSize.M,
        zone: TemperatureClass = TemperatureClass.CHILLED,
        **kw: Any,
    ) -> Compartment:
        fields: dict[str, Any] = dict(
            label=f"C{_n()}", size=size, zone=zone, inner_volume_ml=VOLUME_BY_SIZE[size]
        )
        fields.update(kw)
        return self._save(Compartment(bank_id=(bank or self.locker_bank()).id, **fields))

    def resident(self, neighborhood: Neighborhood | None = None, **kw: Any) -> Resident:
        fields: dict[str, Any] = dict(
            phone=f"+86138{_n():08d}", name="Test Resident", language=Language.EN
        )
        fields.update(kw)
        return self._save(
            Resident(neighborhood_id=(neighborhood or self.neighborhood()).id, **fields)
        )

    def staff(self, role: StaffRole, city: City | None = None, **kw: Any) -> StaffUser:
        fields: dict[str, Any] = dict(
            username=f"{role.value}{_n()}", password_hash=staff_password_hash(), role=role
        )
        fields.update(kw)
        return self._save(StaffUser(city_id=(city or self.default_city()).id, **fields))

    def operator(self, **kw: Any) -> StaffUser:
        return self.staff(StaffRole.OPERATOR, **kw)

    def driver(self, **kw: Any) -> StaffUser:
        return self.staff(StaffRole.DRIVER, **kw)

    def product(self, city: City | None = None, **kw: Any) -> Product:
        n = _n()
        fields: dict[str, Any] = dict(
            sku=f"SKU-{n}",
            name=f"Product {n}",
            unit="500 g",
            price_minor=1200,
            temperature_class=TemperatureClass.CHILLED,
            packed_volume_ml=1500,
            weight_g=500,
            max_minutes_out=120,
        )
        fields.update(kw)
        return self._save(Product(city_id=(city or self.default_city()).id, **fields))

    def window(
        self, city: City | None = None, *, cutoff_in: timedelta = timedelta(hours=3), **kw: Any
    ) -> DeliveryWindow:
        cutoff = datetime.now(UTC).replace(microsecond=0) + cutoff_in
        fields: dict[str, Any] = dict(
            local_date=date.today() + timedelta(days=_n()),
            slot_name="morning",
            cutoff_at=cutoff,
            ready_by=cutoff + timedelta(hours=5),
            pickup_deadline=cutoff + timedelta(hours=29),
        )
        fields.update(kw)
        return self._save(DeliveryWindow(city_id=(city or self.default_city()).id, **fields))

    def group_buy(
        self,
        *,
        neighborhood: Neighborhood | None = None,
        window: DeliveryWindow | None = None,
        product: Product | None = None,
        tiers: list[tuple[int, int]] | None = None,
        **kw: Any,
    ) -> GroupBuy:
        """A group buy; `tiers` are (min_quantity, unit_price_minor), the first from 1 unit."""
        fields: dict[str, Any] = dict(
            min_quantity=10, stock_cap=None, share_token=secrets.token_hex(8)
        )
        fields.update(kw)
        gb = GroupBuy(
            neighborhood_id=(neighborhood or self.neighborhood()).id,
            window_id=(window or self.window()).id,
            product_id=(product or self.product()).id,
            **fields,
        )
        for min_q, price in tiers or [(1, 1200), (10, 990), (20, 890)]:
            gb.tiers.append(PriceTier(min_quantity=min_q, unit_price_minor=price))
        return self._save(gb)

    def order(self, resident: Resident, lines: list[tuple[GroupBuy, int]], **kw: Any) -> Order:
        """An order written straight to the tables (no stock checks; the service applies rules)."""
        first = lines[0][0]
        order = Order(
            resident_id=resident.id,
            window_id=first.window_id,
            neighborhood_id=resident.neighborhood_id,
            currency="CNY",
            **kw,
        )
        paid = 0
        for gb, qty in lines:
            price = gb.tiers[0].unit_price_minor
            paid += price * qty
            order.lines.append(
                OrderLine(
                    group_buy_id=gb.id,
                    product_id=gb.product_id,
                    quantity=qty,
                    paid_unit_price_minor=price,
                )
            )
            gb.ordered_quantity += qty
        order.paid_minor = paid
        return self._save(order)
