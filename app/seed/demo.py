"""The demo city: Shanghai with 60 neighborhoods and 2,000 residents, a refrigerated fleet
with a driver per van, and dev-only logins (the `driver` login drives the first van)."""

from dataclasses import dataclass, field
from datetime import datetime

from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cities import service as city_service
from app.neighborhoods.models import Neighborhood
from app.residents.models import Resident
from app.seed.city import CitySpec, CitySummary, build_city
from app.seed.fleet import DRIVER_PASSWORD
from app.seed.spec import ROOMY_LAYOUT
from app.staff import service as staff_service
from app.staff.models import StaffRole
from logistics.models import Vehicle

DEMO_SEED = 42
DEMO_LAYOUT = ROOMY_LAYOUT
# Shanghai, 60 neighborhoods, 2,000 residents, 80 products; the fleet sized from the orders.
DEMO_SPEC = CitySpec(compartment_layout=DEMO_LAYOUT)

# Development only: everyone who reads this file knows these passwords.
DEMO_STAFF = (
    ("operator", "demo-operator", StaffRole.OPERATOR, "Demo Operator"),
    ("driver", DRIVER_PASSWORD, StaffRole.DRIVER, "Demo Driver"),
)
DEMO_DRIVER = "driver"


@dataclass
class DemoResult:
    """The demo city, whether this run built it, and how to log in."""

    created: bool
    city_id: int
    city_name: str
    resident_phone: str
    summary: CitySummary | None = None
    staff_created: list[str] = field(default_factory=list)
    staff_skipped: list[str] = field(default_factory=list)
    fleet_drivers: list[str] = field(default_factory=list)

    @property
    def logins(self) -> list[tuple[str, str, str]]:
        """(role, username, password) of the demo staff accounts."""
        return [(role.value, username, password) for username, password, role, _ in DEMO_STAFF]


def first_resident_phone(*, db_session: Session, city_id: int) -> str:
    """The phone of the city's first resident (the demo resident), or "" if it has none."""
    phone = db_session.scalar(
        select(Resident.phone)
        .join(Neighborhood, Neighborhood.id == Resident.neighborhood_id)
        .where(Neighborhood.city_id == city_id)
        .order_by(Resident.id)
        .limit(1)
    )
    return phone or ""


def seed_demo(
    *,
    db_session: Session,
    seed: int = DEMO_SEED,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> DemoResult:
    """Build the demo city and its staff accounts, or skip everything if the city exists."""
    existing = city_service.get_by_name(db_session=db_session, name=DEMO_SPEC.name)
    if existing is not None:
        return DemoResult(
            created=False,
            city_id=existing.id,
            city_name=existing.name,
            resident_phone=first_resident_phone(db_session=db_session, city_id=existing.id),
        )
    summary = build_city(
        db_session=db_session, spec=DEMO_SPEC, seed=seed, progress=progress, now=now
    )
    result = DemoResult(
        created=True,
        city_id=summary.city_id,
        city_name=summary.name,
        resident_phone=summary.first_resident_phone,
        summary=summary,
    )
    result.fleet_drivers = summary.driver_usernames
    for username, password, role, full_name in DEMO_STAFF:
        if staff_service.get_by_username(db_session=db_session, username=username) is not None:
            result.staff_skipped.append(username)
            continue
        user = staff_service.create(
            db_session=db_session,
            city_id=summary.city_id,
            username=username,
            password=password,
            role=role,
            full_name=full_name,
        )
        result.staff_created.append(username)
        if username == DEMO_DRIVER:
            _drive_first_van(db_session=db_session, city_id=summary.city_id, driver_id=user.id)
    return result


def _drive_first_van(*, db_session: Session, city_id: int, driver_id: int) -> None:
    """Make the demo driver login the default driver of the city's first van."""
    van = db_session.scalar(
        select(Vehicle).where(Vehicle.city_id == city_id).order_by(Vehicle.id).limit(1)
    )
    if van is not None:
        van.default_driver_id = driver_id
        db_session.flush()
