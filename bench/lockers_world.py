"""The locker benchmark's world: a fresh migrated PostgreSQL database and a city of banks, each
with one reserved parcel per compartment whose codes are queued for the lockers."""

import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def create_database(base_url: str) -> str:
    """A fresh migrated PostgreSQL database; its URL."""
    from app import dbtools
    from app.core.db import make_engine

    url = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"pickup_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db_url = url.set(database=name).render_as_string(hide_password=False)
    dbtools.upgrade(db_url)
    return db_url


def drop_database(db_url: str) -> None:
    from app.core.db import make_engine

    url = make_url(db_url)
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def build_world(sessions: sessionmaker[Session], banks: int) -> dict[str, Any]:
    """A city with `banks` banks (A1, A2 chilled, F1 frozen, R1 ambient), one resident each,
    and one reserved parcel per compartment; codes issued and queued for the lockers."""
    from app.catalog.models import Product
    from app.cities.models import City
    from app.core.db import utcnow
    from app.core.enums import CompartmentSize, TemperatureClass
    from app.core.security import hash_password
    from app.groupbuys.models import GroupBuy
    from app.neighborhoods.models import Compartment, CompartmentStatus, LockerBank, Neighborhood
    from app.orders.models import Order, OrderLine, OrderStatus
    from app.residents.models import Resident
    from app.staff.models import StaffRole, StaffUser
    from app.windows.models import DeliveryWindow
    from lockers import intake
    from logistics.models import Parcel, ParcelStatus

    now = utcnow()
    layout = [
        ("A1", TemperatureClass.CHILLED),
        ("A2", TemperatureClass.CHILLED),
        ("F1", TemperatureClass.FROZEN),
        ("R1", TemperatureClass.AMBIENT),
    ]
    with sessions() as db:
        city = City(name="Bench City", timezone="Asia/Shanghai", currency="CNY", country_code="CN")
        db.add(city)
        db.flush()
        driver = StaffUser(
            city_id=city.id,
            username="bench-driver",
            password_hash=hash_password("x"),
            role=StaffRole.DRIVER,
        )
        product = Product(
            city_id=city.id,
            sku="B-1",
            name="Greens",
            unit="1 kg",
            price_minor=900,
            temperature_class=TemperatureClass.CHILLED,
            packed_volume_ml=1000,
            weight_g=1000,
            max_minutes_out=120,
        )
        window = DeliveryWindow(
            city_id=city.id,
            local_date=now.date(),
            slot_name="bench",
            cutoff_at=now - timedelta(hours=5),
            ready_by=now + timedelta(hours=1),
            pickup_deadline=now + timedelta(hours=30),
        )
        db.add_all([driver, product, window])
        db.flush()
        hoods = [
            Neighborhood(city_id=city.id, name=f"Hood {i}", lat=31.2, lon=121.4)
            for i in range(max(1, banks // 10))
        ]
        db.add_all(hoods)
        db.flush()
        gbs = [
            GroupBuy(
                neighborhood_id=h.id,
                window_id=window.id,
                product_id=product.id,
                min_quantity=1,
                share_token=secrets.token_hex(8),
            )
            for h in hoods
        ]
        db.add_all(gbs)
        db.flush()
        bank_rows = [
            LockerBank(
                neighborhood_id=hoods[i % len(hoods)].id,
                code=f"bench-{i:04d}",
                name=f"Bench bank {i}",
                lat=31.2,
                lon=121.4,
            )
            for i in range(banks)
        ]
        db.add_all(bank_rows)
        db.flush()
        compartments = {}
        for bank in bank_rows:
            for label, zone in layout:
                c = Compartment(
                    bank_id=bank.id,
                    label=label,
                    size=CompartmentSize.M,
                    zone=zone,
                    inner_volume_ml=45_000,
                    status=CompartmentStatus.RESERVED,
                )
                compartments[(bank.id, label)] = c
        db.add_all(compartments.values())
        residents = [
            Resident(neighborhood_id=b.neighborhood_id, phone=f"+86139{i:08d}")
            for i, b in enumerate(bank_rows)
        ]
        db.add_all(residents)
        db.flush()
        orders = []
        for i, bank in enumerate(bank_rows):
            for _label, _zone in layout:
                order = Order(
                    resident_id=residents[i].id,
                    window_id=window.id,
                    neighborhood_id=bank.neighborhood_id,
                    currency="CNY",
                    status=OrderStatus.OUT_FOR_DELIVERY,
                    paid_minor=900,
                )
                order.lines.append(
                    OrderLine(
                        group_buy_id=gbs[i % len(hoods)].id,
                        product_id=product.id,
                        quantity=1,
                        paid_unit_price_minor=900,
                    )
                )
                orders.append(order)
        db.add_all(orders)
        db.flush()
        parcels: dict[str, list[int]] = {label: [] for label, _ in layout}
        rows = []
        k = 0
        for i, bank in enumerate(bank_rows):
            for label, zone in layout:
                rows.append(
                    Parcel(
                        order_id=orders[k].id,
                        window_id=window.id,
                        resident_id=residents[i].id,
                        neighborhood_id=bank.neighborhood_id,
                        temperature_class=zone,
                        volume_ml=2000,
                        weight_g=1000,
                        compartment_size=CompartmentSize.M,
                        bank_id=bank.id,
                        compartment_id=compartments[(bank.id, label)].id,
                        status=ParcelStatus.LOADED,
                        pickup_deadline=now + timedelta(hours=30),
                    )
                )
                k += 1
        db.add_all(rows)
        db.flush()
        label_of = {c.id: label for (_, label), c in compartments.items()}
        for parcel in rows:
            parcels[label_of[parcel.compartment_id]].append(parcel.id)
        db.commit()
        driver_id = driver.id
        started = time.perf_counter()
        # What the plan's publication does: issue every code and queue its push.
        for parcel in rows:
            intake.prepare_parcel(db_session=db, parcel_id=parcel.id)
        db.commit()
        print(f"  codes issued for {len(rows)} parcels in {time.perf_counter() - started:.1f}s")
    return {"driver_id": driver_id, "parcels": parcels}
