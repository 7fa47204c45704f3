"""A small city cut off for real (close, pack, reserve, route, publish), shared by the parcels,
messages and depot tests: two neighborhoods, a van, orders in two temperature classes."""

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.orders.models import Order
from app.staff.models import StaffUser
from logistics import pipeline
from logistics.models import Parcel
from tests.factories import Factory
from tests.logistics.conftest import World, fast_settings


@dataclass
class CutCity:
    """The world after its cut-off, with its operator, orders and parcels."""

    world: World
    operator: StaffUser
    orders: list[Order]
    parcels: list[Parcel] = field(default_factory=list)


def cut_city(db: Session, make: Factory, *, orders_per_hood: int = 2) -> CutCity:
    """Build the city and run its window's cut-off in the test's session."""
    world = World(make)
    world.van()
    orders = []
    for n in range(2):
        hood, _ = world.hood(km_north=1.0 + n, km_east=0.5 * n)
        for _ in range(orders_per_hood):
            lines = [(world.chilled, 2), (world.frozen, 1)]
            orders.append(world.order(hood, lines, confirmed=False))
    factory = sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    report = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=fast_settings()
    )
    assert report.status == "succeeded", report.error
    db.expire_all()
    parcels = list(
        db.scalars(select(Parcel).where(Parcel.window_id == world.window.id).order_by(Parcel.id))
    )
    return CutCity(world, world.operator(), orders, parcels)
