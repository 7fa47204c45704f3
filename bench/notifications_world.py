"""The SMS benchmark's world: a fresh database (a SQLite file or a PostgreSQL database of its
own) and one outbox event per message, with residents and, for `parcel_ready`, parcels in lockers
holding live pickup codes. Imported by bench/notifications.py once it has set the environment."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import make_engine
from app.core.enums import CompartmentSize, Language, TemperatureClass
from app.events.models import OutboxEvent
from logistics.models import Parcel, ParcelStatus
from tests.factories import Factory

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def database(kind: str, workdir: Path) -> tuple[str, Any]:
    """A fresh database URL and a function that removes it."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}", lambda: None
    base = make_url(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG)).set(
        drivername="postgresql+psycopg"
    )
    name = f"pickup_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def seed(factory: sessionmaker[Session], template: str, count: int) -> None:
    """Residents and one outbox event per message (parcels in lockers for parcel_ready)."""
    from lockers import codes

    with factory() as db_session:
        make = Factory(db_session)
        hoods = [make.neighborhood() for _ in range(20)]
        residents = [
            make.resident(hoods[i % 20], language=Language.ZH if i % 3 == 0 else Language.EN)
            for i in range(max(1, count // 10))
        ]
        rows: list[dict[str, Any]] = []
        if template == "group_formed":
            for i in range(count):
                resident = residents[i % len(residents)]
                payload = {
                    "order_id": 100_000 + i,
                    "resident_id": resident.id,
                    "charged_minor": 1980 + i,
                    "refunded_minor": 0,
                    "currency": "CNY",
                }
                rows.append({"kind": "order.confirmed", "key": f"bench:{i}", "payload": payload})
        else:
            banks = [make.locker_bank(h, address=f"{i} Huaihai Rd") for i, h in enumerate(hoods)]
            bank_of = {bank.neighborhood_id: bank for bank in banks}
            per_bank = count // len(banks) + 1
            compartments = {
                bank.id: [make.compartment(bank, label=f"C{n:03d}") for n in range(per_bank)]
                for bank in banks
            }
            group_buy = make.group_buy(neighborhood=hoods[0])
            orders = {r.id: make.order(r, [(group_buy, 1)]) for r in residents}
            deadline = datetime.now(UTC) + timedelta(hours=20)
            for i in range(count):
                resident = residents[i % len(residents)]
                bank = bank_of[resident.neighborhood_id]
                compartment = compartments[bank.id][i // len(banks) % per_bank]
                order = orders[resident.id]
                parcel = Parcel(
                    order_id=order.id,
                    window_id=order.window_id,
                    resident_id=resident.id,
                    neighborhood_id=resident.neighborhood_id,
                    temperature_class=TemperatureClass.CHILLED,
                    sequence=i + 1,
                    volume_ml=1000,
                    weight_g=500,
                    compartment_size=CompartmentSize.M,
                    bank_id=bank.id,
                    compartment_id=compartment.id,
                    status=ParcelStatus.READY_FOR_PICKUP,
                    pickup_deadline=deadline,
                )
                db_session.add(parcel)
                db_session.flush()
                codes.ensure_pickup_code(db_session=db_session, parcel=parcel)
                payload = {
                    "parcel_id": parcel.id,
                    "order_id": order.id,
                    "resident_id": resident.id,
                    "bank_id": bank.id,
                    "compartment_id": compartment.id,
                }
                rows.append(
                    {"kind": "parcel.ready_for_pickup", "key": f"bench:{i}", "payload": payload}
                )
        for row in rows:
            db_session.add(
                OutboxEvent(kind=row["kind"], dedupe_key=row["key"], payload=row["payload"])
            )
        db_session.commit()
