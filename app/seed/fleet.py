"""City builder step for the fleet: depots around the city, refrigerated vans sized for the
demand, and a driver account for each van (its default driver).

Sizing: a van carries `VAN_CAPACITY` per temperature zone; the fleet takes the larger of what
the busiest window's ordered volume and weight need (with a margin: parcels do not fill a zone
exactly) and one van per `NEIGHBORHOODS_PER_VAN` neighborhoods (a van serves about that many
banks between a window's cut-off and its ready-by within the cold-chain limit). Shifts run from
the earliest cut-off to two hours after the latest ready-by, so every van can serve every
window of a day. Drivers' password is published (`DRIVER_PASSWORD`): development data only.
"""

import math
import random
from collections import defaultdict
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.cities.models import Depot
from app.core.enums import TemperatureClass
from app.core.security import hash_password
from app.seed import data
from app.seed.demand import GroupBuyPlan, OrderPlan
from app.seed.rows import KM_PER_DEGREE, Steps, ignore_progress, insert, insert_then_ids
from app.seed.spec import CitySpec, SlotSpec
from app.staff.models import StaffRole, StaffUser
from logistics.models import Vehicle

DRIVER_PASSWORD = "demo-driver"
NEIGHBORHOODS_PER_VAN = 5
VANS_PER_DEPOT = 40
NEIGHBORHOODS_PER_DEPOT = 30
CAPACITY_MARGIN = 1.3
RETURN_HOURS = 2
# (volume_ml, weight_g) per zone of one refrigerated van.
VAN_CAPACITY: dict[TemperatureClass, tuple[int, int]] = {
    TemperatureClass.AMBIENT: (2_000_000, 700_000),
    TemperatureClass.CHILLED: (2_000_000, 700_000),
    TemperatureClass.FROZEN: (800_000, 300_000),
}


def busiest_window_load(
    plans: list[GroupBuyPlan],
    orders: list[OrderPlan],
    product_ids: list[int],
    product_rows: list[dict[str, Any]],
) -> dict[TemperatureClass, tuple[int, int]]:
    """The largest ordered (volume_ml, weight_g) per zone over the windows."""
    by_id = dict(zip(product_ids, product_rows, strict=True))
    loads: dict[tuple[int, TemperatureClass], list[int]] = defaultdict(lambda: [0, 0])
    for order in orders:
        for plan_index, quantity, _ in order.lines:
            product = by_id[plans[plan_index].row["product_id"]]
            load = loads[(order.window_id, product["temperature_class"])]
            load[0] += product["packed_volume_ml"] * quantity
            load[1] += product["weight_g"] * quantity
    busiest: dict[TemperatureClass, tuple[int, int]] = {}
    for (_, zone), (volume, weight) in loads.items():
        old = busiest.get(zone, (0, 0))
        busiest[zone] = (max(old[0], volume), max(old[1], weight))
    return busiest


def fleet_size(spec: CitySpec, load: dict[TemperatureClass, tuple[int, int]]) -> int:
    """Vans the city needs: `spec.vans` if set, else enough for its banks and its load."""
    if spec.vans is not None:
        return spec.vans
    needed = math.ceil(spec.neighborhoods / NEIGHBORHOODS_PER_VAN)
    for zone, (volume, weight) in load.items():
        capacity_volume, capacity_weight = VAN_CAPACITY[zone]
        share = max(volume / capacity_volume, weight / capacity_weight)
        needed = max(needed, math.ceil(share * CAPACITY_MARGIN))
    return max(2, needed)


def depot_count_for(neighborhoods: int, vans: int) -> int:
    """One depot per NEIGHBORHOODS_PER_DEPOT, at most one more than the vans fill."""
    return max(
        1,
        min(
            math.ceil(neighborhoods / NEIGHBORHOODS_PER_DEPOT),
            math.ceil(vans / VANS_PER_DEPOT) + 1,
        ),
    )


def shift_of(slots: tuple[SlotSpec, ...]) -> tuple[time, time]:
    """Local shift from the earliest cut-off to RETURN_HOURS after the latest ready-by."""
    day = datetime(2000, 1, 1)
    starts = [
        datetime.combine(day, s.ready_by_local) - timedelta(hours=s.cutoff_hours_before)
        for s in slots
    ]
    ends = [datetime.combine(day, s.ready_by_local) + timedelta(hours=RETURN_HOURS) for s in slots]
    start = max(min(starts), day)
    end = min(max(ends), day + timedelta(hours=23, minutes=59))
    return start.time(), end.time()


def driver_username(spec: CitySpec, number: int, width: int) -> str:
    """The username of the city's driver `number` (from 1), e.g. sh-driver-01."""
    return f"{spec.bank_code_prefix.lower()}-driver-{number:0{width}d}"


def add_fleet(
    db_session: Session,
    steps: Steps,
    rng: random.Random,
    spec: CitySpec,
    *,
    city_id: int,
    central_depot: Depot,
    load: dict[TemperatureClass, tuple[int, int]],
) -> tuple[int, list[str]]:
    """Depots beyond the central one, vans spread over them, one driver per van.

    Returns (depots in all, driver usernames in van order)."""
    vans = fleet_size(spec, load)
    depot_count = spec.depots or depot_count_for(spec.neighborhoods, vans)
    with steps.step("Depots, vans and drivers", vans) as advance:
        depots = [central_depot]
        for k in range(1, depot_count):
            angle = 2 * math.pi * (k - 1) / max(depot_count - 1, 1)
            reach = 0.6 * spec.radius_km
            lat = spec.centre_lat + reach * math.sin(angle) / KM_PER_DEGREE
            lon_degree = KM_PER_DEGREE * math.cos(math.radians(spec.centre_lat))
            depots.append(
                Depot(
                    city_id=city_id,
                    name=f"{spec.name} Cold Store {k + 1}",
                    address=f"{rng.randint(1, 999)} {rng.choice(data.STREETS)}",
                    lat=round(lat, 6),
                    lon=round(spec.centre_lon + reach * math.cos(angle) / lon_degree, 6),
                )
            )
        db_session.add_all(depots[1:])
        db_session.flush()
        width = max(2, len(str(vans)))
        usernames = [driver_username(spec, n + 1, width) for n in range(vans)]
        password_hash = hash_password(DRIVER_PASSWORD)
        driver_rows = []
        for username in usernames:
            surname, given = rng.choice(data.SURNAMES), rng.choice(data.GIVEN_NAMES)
            driver_rows.append(
                {
                    "city_id": city_id,
                    "username": username,
                    "full_name": f"{given[0]} {surname[0]}",
                    "password_hash": password_hash,
                    "role": StaffRole.DRIVER,
                    "active": True,
                }
            )
        driver_ids = insert_then_ids(
            db_session,
            StaffUser,
            driver_rows,
            ignore_progress,
            keys=("username",),
            where=StaffUser.city_id == city_id,
        )
        shift_start, shift_end = shift_of(spec.slots)
        van_rows = []
        for n, driver_id in enumerate(driver_ids):
            row: dict[str, Any] = {
                "city_id": city_id,
                "depot_id": depots[n % len(depots)].id,
                "code": f"{spec.bank_code_prefix}-RV-{n + 1:0{width}d}",
                "name": f"Refrigerated van {n + 1}",
                "shift_start_local": shift_start,
                "shift_end_local": shift_end,
                "fixed_cost_minor": 20_000 + rng.randint(0, 2_000),
                "default_driver_id": driver_id,
                "active": True,
            }
            for zone, (volume, weight) in VAN_CAPACITY.items():
                row[f"{zone.value}_volume_ml"] = volume
                row[f"{zone.value}_weight_g"] = weight
            van_rows.append(row)
        insert(db_session, Vehicle, van_rows, advance)
    return len(depots), usernames
