"""The seeded fleet: the demo city's cut-off routes every stop; the benchmark city's fleet
grows with its demand; every van has a driver who can log in."""

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.cities.models import Depot
from app.core.db import utcnow
from app.seed import demo, fleet
from app.seed.city import CitySpec, build_city
from app.seed.spec import ROOMY_LAYOUT, ROOMY_LAYOUT_ORDERS, layout_for_orders
from app.staff import service as staff_service
from app.staff.models import StaffRole, StaffUser
from app.windows.models import DeliveryWindow
from logistics import pipeline
from logistics.models import Parcel, Route, UnassignedStop, Vehicle
from logistics.settings import LogisticsSettings


def _factory(db: Session) -> sessionmaker[Session]:
    """Sessions on the test's connection: their commits are savepoints rolled back at the end."""
    return sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


def test_the_demo_city_cutoff_routes_every_stop_with_its_own_vans(db) -> None:  # type: ignore[no-untyped-def]
    result = demo.seed_demo(db_session=db)
    db.commit()
    window = db.scalars(
        select(DeliveryWindow)
        .where(DeliveryWindow.city_id == result.city_id)
        .order_by(DeliveryWindow.cutoff_at)
        .limit(1)
    ).one()
    settings = LogisticsSettings(solver_time_limit_s=2.0, solver_workers=1, packing_minutes=0)

    report = pipeline.run_cutoff(
        session_factory=_factory(db),
        window_id=window.id,
        now=window.cutoff_at + timedelta(minutes=1),
        settings=settings,
    )

    assert report.status == "succeeded", report.error
    steps = {s.name: s.detail for s in report.steps}
    parcels = steps["pack"]["parcels_total"]
    assert parcels > 500, "the demo city orders enough to need a fleet"
    assert steps["reserve"]["parcels_unplaced"] == 0 and steps["reserve"]["overflowed_now"] == 0
    assert steps["route"]["unassigned_stops"] == 0, report.unassigned
    assert steps["route"]["parcels_routed"] == parcels
    assert 2 <= steps["route"]["routes"] <= steps["route"]["vehicles_available"]
    no_van = db.scalar(
        select(func.count())
        .select_from(UnassignedStop)
        .where(UnassignedStop.window_id == window.id, UnassignedStop.reason_code == "no_vehicle")
    )
    assert no_van == 0
    routed = db.scalar(
        select(func.count()).where(Parcel.window_id == window.id, Parcel.route_stop_id.is_not(None))
    )
    assert routed == parcels
    drivers = db.scalars(select(Route.driver_id).where(Route.window_id == window.id)).all()
    assert all(d is not None for d in drivers)


def test_the_demo_driver_login_drives_the_first_van_and_every_van_has_a_driver(db) -> None:  # type: ignore[no-untyped-def]
    result = demo.seed_demo(db_session=db)
    vans = db.scalars(
        select(Vehicle).where(Vehicle.city_id == result.city_id).order_by(Vehicle.id)
    ).all()
    assert len(vans) >= 2 and all(v.default_driver_id is not None for v in vans)
    assert len({v.default_driver_id for v in vans}) == len(vans)
    first_driver = db.get(StaffUser, vans[0].default_driver_id)
    assert first_driver.username == demo.DEMO_DRIVER
    for van in vans:
        driver = db.get(StaffUser, van.default_driver_id)
        assert driver.role == StaffRole.DRIVER and driver.city_id == result.city_id
        assert van.shift_start_local.hour <= 6 and van.shift_end_local.hour >= 18
        assert van.frozen_volume_ml > 0 and van.chilled_volume_ml > 0
    spare = result.fleet_drivers[-1]
    user = staff_service.authenticate(db_session=db, username=spare, password=fleet.DRIVER_PASSWORD)
    assert user.role == StaffRole.DRIVER
    depots = db.scalar(select(func.count()).where(Depot.city_id == result.city_id))
    assert depots >= 2


def test_the_fleet_grows_with_the_city(db) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    small = build_city(
        db_session=db,
        spec=CitySpec(name="Small", neighborhoods=10, residents=300, bank_code_prefix="SM"),
        seed=1,
        now=now,
    )
    big = build_city(
        db_session=db,
        spec=CitySpec(
            name="Big", neighborhoods=100, residents=20_000, order_share=0.1, bank_code_prefix="BG"
        ),
        seed=1,
        now=now,
    )
    assert 2 <= small.vans < big.vans
    assert big.vans >= 100 // fleet.NEIGHBORHOODS_PER_VAN
    assert big.drivers == big.vans and big.depots >= 2
    fixed = build_city(
        db_session=db,
        spec=CitySpec(name="Fixed", neighborhoods=3, residents=30, bank_code_prefix="FX", vans=0),
        seed=1,
        now=now,
    )
    assert fixed.vans == 0 and fixed.depots == 1


def test_the_locker_layout_grows_with_the_orders_per_neighborhood() -> None:
    def total(layout) -> int:  # type: ignore[no-untyped-def]
        return sum(count for _, _, count in layout)

    assert layout_for_orders(3) == ROOMY_LAYOUT == demo.DEMO_LAYOUT
    assert total(layout_for_orders(2 * ROOMY_LAYOUT_ORDERS)) == 2 * total(ROOMY_LAYOUT)
