"""City builder steps for places: the city with its first depot and schedule, neighborhoods,
and a locker bank of compartments in each neighborhood."""

import random
from typing import Any

from sqlalchemy import ScalarSelect, select
from sqlalchemy.orm import Session

from app.cities.models import City, Depot, WindowSlot
from app.core.enums import TemperatureClass
from app.neighborhoods import service as neighborhood_service
from app.neighborhoods.models import Compartment, CompartmentStatus, LockerBank, Neighborhood
from app.seed import data
from app.seed.rows import Steps, ignore_progress, insert, insert_then_ids, point
from app.seed.spec import CitySpec


def neighborhood_names(rng: random.Random, count: int) -> list[str]:
    """`count` distinct estate names like "Gubei Garden" (then "... Phase 2" when short)."""
    names = [f"{area} {estate}" for area in data.AREAS for estate in data.ESTATES]
    rng.shuffle(names)
    result = names[:count]
    phase = 2
    while len(result) < count:
        result.extend(f"{n} Phase {phase}" for n in names[: count - len(result)])
        phase += 1
    return result


def add_city(db_session: Session, steps: Steps, rng: random.Random, spec: CitySpec) -> City:
    """The city, its central depot and its daily window slots."""
    with steps.step("City, depot and schedule", 1) as advance:
        city = City(
            name=spec.name,
            timezone=spec.timezone,
            currency=spec.currency,
            country_code=spec.country_code,
        )
        db_session.add(city)
        db_session.flush()
        depot_lat, depot_lon = point(rng, spec.centre_lat, spec.centre_lon, spec.radius_km * 0.8)
        db_session.add(
            Depot(
                city_id=city.id,
                name=f"{spec.name} Central Cold Store",
                address=f"{rng.randint(1, 999)} {rng.choice(data.STREETS)}",
                lat=depot_lat,
                lon=depot_lon,
            )
        )
        db_session.add_all(
            WindowSlot(
                city_id=city.id,
                name=slot.name,
                ready_by_local=slot.ready_by_local,
                cutoff_hours_before=slot.cutoff_hours_before,
                pickup_hours_after=slot.pickup_hours_after,
            )
            for slot in spec.slots
        )
        db_session.flush()
        advance(1)
    return city


def add_neighborhoods(
    db_session: Session, steps: Steps, rng: random.Random, spec: CitySpec, city_id: int
) -> tuple[list[int], list[dict[str, Any]]]:
    """The neighborhoods' ids and rows, spread over the city's disc."""
    with steps.step("Neighborhoods", spec.neighborhoods) as advance:
        names = neighborhood_names(rng, spec.neighborhoods)
        hood_rows: list[dict[str, Any]] = []
        for name in names:
            lat, lon = point(rng, spec.centre_lat, spec.centre_lon, spec.radius_km)
            address = f"{rng.randint(1, 1999)} {rng.choice(data.STREETS)}"
            hood_rows.append(
                {
                    "city_id": city_id,
                    "name": name,
                    "address": address,
                    "lat": lat,
                    "lon": lon,
                    "active": True,
                }
            )
        hood_ids = insert_then_ids(
            db_session,
            Neighborhood,
            hood_rows,
            advance,
            keys=("name",),
            where=Neighborhood.city_id == city_id,
        )
    return hood_ids, hood_rows


def city_neighborhood_ids(city_id: int) -> ScalarSelect[int]:
    """A subquery of the city's neighborhood ids."""
    return select(Neighborhood.id).where(Neighborhood.city_id == city_id).scalar_subquery()


def add_lockers(
    db_session: Session,
    steps: Steps,
    rng: random.Random,
    spec: CitySpec,
    *,
    city_id: int,
    hood_ids: list[int],
    hood_rows: list[dict[str, Any]],
) -> tuple[int, int]:
    """A bank per neighborhood with `spec.compartment_layout`; (banks, compartments) added."""
    per_bank = sum(count for _, _, count in spec.compartment_layout)
    with steps.step("Locker banks and compartments", spec.neighborhoods * per_bank) as advance:
        width = max(3, len(str(spec.neighborhoods)))
        bank_rows = []
        for i, (hood_id, hood) in enumerate(zip(hood_ids, hood_rows, strict=True)):
            bank_rows.append(
                {
                    "neighborhood_id": hood_id,
                    "code": f"{spec.bank_code_prefix}-{i + 1:0{width}d}",
                    "name": f"{hood['name']} lockers",
                    "address": hood["address"],
                    "lat": round(hood["lat"] + rng.uniform(-0.0008, 0.0008), 6),
                    "lon": round(hood["lon"] + rng.uniform(-0.0008, 0.0008), 6),
                }
            )
        bank_ids = insert_then_ids(
            db_session,
            LockerBank,
            bank_rows,
            ignore_progress,
            keys=("code",),
            where=LockerBank.neighborhood_id.in_(city_neighborhood_ids(city_id)),
        )
        compartment_rows = []
        for bank_id in bank_ids:
            numbers: dict[TemperatureClass, int] = {}
            for zone, size, count in spec.compartment_layout:
                volume = neighborhood_service.DEFAULT_INNER_VOLUME_ML[size]
                for _ in range(count):
                    numbers[zone] = numbers.get(zone, 0) + 1
                    compartment_rows.append(
                        {
                            "bank_id": bank_id,
                            "label": neighborhood_service.compartment_label(zone, numbers[zone]),
                            "size": size,
                            "zone": zone,
                            "inner_volume_ml": volume,
                            "status": CompartmentStatus.FREE,
                        }
                    )
        insert(db_session, Compartment, compartment_rows, advance)
    return len(bank_ids), len(compartment_rows)
