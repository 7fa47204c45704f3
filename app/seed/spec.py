"""What a seeded city is made of (`CitySpec`) and what building it produced (`CitySummary`)."""

import math
import re
from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.enums import CompartmentSize, TemperatureClass
from app.seed import data

S, M, L = CompartmentSize.S, CompartmentSize.M, CompartmentSize.L
A, C, F = TemperatureClass.AMBIENT, TemperatureClass.CHILLED, TemperatureClass.FROZEN

# 24 ambient, 24 chilled and 12 frozen compartments per bank, small to large.
DEFAULT_LAYOUT: tuple[tuple[TemperatureClass, CompartmentSize, int], ...] = (
    (A, S, 8), (A, M, 10), (A, L, 6),
    (C, S, 8), (C, M, 10), (C, L, 6),
    (F, S, 4), (F, M, 5), (F, L, 3),
)  # fmt: skip


# Room for a morning's and an evening's parcels at once in the busiest neighborhood of the demo
# city (about 1.5 times the average of 6.5 ambient, 7 chilled and 4.5 frozen parcels a window
# from about 12 orders per neighborhood and window), mostly small.
ROOMY_LAYOUT: tuple[tuple[TemperatureClass, CompartmentSize, int], ...] = (
    (A, S, 18), (A, M, 8), (A, L, 4),
    (C, S, 20), (C, M, 7), (C, L, 3),
    (F, S, 14), (F, M, 4), (F, L, 2),
)  # fmt: skip
ROOMY_LAYOUT_ORDERS = 12  # orders per neighborhood and window ROOMY_LAYOUT is made for


def layout_for_orders(
    orders_per_neighborhood_and_window: float,
) -> tuple[tuple[TemperatureClass, CompartmentSize, int], ...]:
    """ROOMY_LAYOUT scaled so two windows' parcels fit at once (never smaller than it)."""
    factor = max(1.0, orders_per_neighborhood_and_window / ROOMY_LAYOUT_ORDERS)
    return tuple((zone, size, math.ceil(count * factor)) for zone, size, count in ROOMY_LAYOUT)


@dataclass(frozen=True)
class SlotSpec:
    """A daily window of the city's schedule."""

    name: str
    ready_by_local: time
    cutoff_hours_before: int
    pickup_hours_after: int


# Ready by 11:00 (orders close 06:00) and by 18:00 (orders close 13:00), local time.
DEFAULT_SLOTS = (SlotSpec("morning", time(11), 5, 12), SlotSpec("evening", time(18), 5, 16))


@dataclass(frozen=True)
class CitySpec:
    """What to build. The defaults are the demo city; the benchmark city scales them up.

    `vans` and `depots` of None size the fleet from the city (see `app.seed.fleet`)."""

    name: str = "Shanghai"
    neighborhoods: int = 60
    residents: int = 2_000
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    country_code: str = "CN"
    centre_lat: float = 31.23
    centre_lon: float = 121.47
    radius_km: float = 15.0
    bank_code_prefix: str = "SH"
    products: int = len(data.PRODUCTS)
    window_days: int = 3
    group_buys_per_window: int = 20
    order_share: float = 0.35
    zh_share: float = 0.6
    consent_share: float = 0.92
    compartment_layout: tuple[tuple[TemperatureClass, CompartmentSize, int], ...] = DEFAULT_LAYOUT
    slots: tuple[SlotSpec, ...] = DEFAULT_SLOTS
    vans: int | None = None
    depots: int | None = None

    def validate(self) -> None:
        """Raise ValueError naming the first field that makes no sense."""
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"timezone: unknown IANA zone {self.timezone!r}") from exc
        checks = [
            (bool(self.name.strip()) and len(self.name) <= 120, "name: 1-120 characters"),
            (self.neighborhoods >= 1, "neighborhoods: at least 1"),
            (self.residents >= 1, "residents: at least 1"),
            (1 <= self.products <= len(data.PRODUCTS), f"products: 1-{len(data.PRODUCTS)}"),
            (
                0 <= self.group_buys_per_window <= self.products,
                "group_buys_per_window: between 0 and products",
            ),
            (self.window_days >= 1, "window_days: at least 1"),
            (0 <= self.order_share <= 1, "order_share: between 0 and 1"),
            (self.radius_km > 0, "radius_km: positive"),
            (
                bool(re.fullmatch(r"[A-Z0-9]{1,10}", self.bank_code_prefix)),
                "bank_code_prefix: 1-10 upper-case letters or digits",
            ),
            (bool(re.fullmatch(r"[A-Z]{3}", self.currency)), "currency: ISO 4217 code"),
            (bool(self.slots), "slots: at least one"),
            (self.vans is None or 0 <= self.vans <= 999, "vans: between 0 and 999"),
            (self.depots is None or 1 <= self.depots <= 50, "depots: between 1 and 50"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass
class CitySummary:
    """What was built, how much of it, and how long each step took (seconds)."""

    city_id: int
    name: str
    timezone: str
    neighborhoods: int = 0
    locker_banks: int = 0
    compartments: int = 0
    residents: int = 0
    products: int = 0
    windows: int = 0
    group_buys: int = 0
    price_tiers: int = 0
    orders: int = 0
    order_lines: int = 0
    depots: int = 0
    vans: int = 0
    drivers: int = 0
    first_resident_phone: str = ""
    driver_usernames: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Total time of all steps."""
        return sum(self.timings.values())

    def counts(self) -> dict[str, int]:
        """The row counts by kind, for printing and comparing."""
        return {
            "neighborhoods": self.neighborhoods,
            "locker_banks": self.locker_banks,
            "compartments": self.compartments,
            "residents": self.residents,
            "products": self.products,
            "windows": self.windows,
            "group_buys": self.group_buys,
            "price_tiers": self.price_tiers,
            "orders": self.orders,
            "order_lines": self.order_lines,
            "depots": self.depots,
            "vans": self.vans,
            "drivers": self.drivers,
        }
