"""Cities, their depots and their delivery-window schedule."""

from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cities.models import City, Depot, WindowSlot
from app.cities.schemas import (
    CityCreate,
    CityUpdate,
    DepotCreate,
    DepotUpdate,
    WindowSlotCreate,
    WindowSlotUpdate,
)
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.pagination import page
from app.core.persistence import apply, remove, save


class CityNotFound(NotFound):
    """No city has this id."""

    case = "city_not_found"


class UnknownCity(InvalidInput):
    """The `city_id` given in the body names no city."""

    case = "unknown_city"


class OtherCity(Forbidden):
    """The city is run by its own operators, not the caller."""

    case = "other_city"


class CityNameTaken(Conflict):
    """Another city has this name."""

    case = "city_name_taken"


class DepotNotFound(NotFound):
    """The city has no depot with this id."""

    case = "depot_not_found"


class WindowSlotNotFound(NotFound):
    """The city has no window slot with this id."""

    case = "window_slot_not_found"


class SlotNameTaken(Conflict):
    """The city has another window slot of this name."""

    case = "slot_name_taken"


# Cities


def get(*, db_session: Session, city_id: int) -> City | None:
    """The city with this id, if any."""
    return db_session.get(City, city_id)


def get_required(*, db_session: Session, city_id: int, field: str = "city_id") -> City:
    """The city with this id, or CityNotFound naming `field`."""
    city = db_session.get(City, city_id)
    if city is None:
        raise CityNotFound(f"no city with id {city_id}", field=field)
    return city


def get_own(*, db_session: Session, city_id: int, operator_city_id: int) -> City:
    """The city if it is the operator's own; CityNotFound if absent, OtherCity if another's."""
    city = get_required(db_session=db_session, city_id=city_id)
    if city.id != operator_city_id:
        raise OtherCity(
            f"you operate city {operator_city_id}; city {city_id} is run by its own operators",
            field="city_id",
        )
    return city


def get_by_name(*, db_session: Session, name: str) -> City | None:
    """The city with this exact name, if any."""
    return db_session.scalar(select(City).where(City.name == name))


def get_all(
    *, db_session: Session, q: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[City], int]:
    """Cities by name, optionally those whose name contains `q`."""
    query = select(City).order_by(City.name, City.id)
    if q:
        query = query.where(func.lower(City.name).contains(q.lower(), autoescape=True))
    return page(db_session=db_session, query=query, limit=limit, offset=offset)


def zone(city: City) -> ZoneInfo:
    """The city's time zone."""
    return ZoneInfo(city.timezone)


def create(*, db_session: Session, city_in: CityCreate) -> City:
    """A new city, with the depots and window slots given; its name must be free."""
    if get_by_name(db_session=db_session, name=city_in.name) is not None:
        raise CityNameTaken(f"a city named {city_in.name!r} exists", field="name")
    city = City(**city_in.model_dump(exclude={"depots", "window_slots"}))
    save(
        db_session=db_session,
        obj=city,
        field="name",
        reason="city name taken",
        refusal=CityNameTaken,
    )
    for depot_in in city_in.depots:
        create_depot(db_session=db_session, city=city, depot_in=depot_in)
    for slot_in in city_in.window_slots:
        create_slot(db_session=db_session, city=city, slot_in=slot_in)
    db_session.refresh(city, ["depots", "window_slots"])
    return city


def update(*, db_session: Session, city: City, city_in: CityUpdate) -> City:
    """Apply the given changes to a city."""
    changes = city_in.changes()
    name = changes.get("name", city.name)
    if name != city.name and get_by_name(db_session=db_session, name=name) is not None:
        raise CityNameTaken(f"a city named {name!r} exists", field="name")
    apply(city, changes)
    save(
        db_session=db_session,
        obj=city,
        field="name",
        reason="city name taken",
        refusal=CityNameTaken,
    )
    return city


# Depots


def get_depot(*, db_session: Session, city_id: int, depot_id: int) -> Depot:
    """The city's depot with this id, or NotFound."""
    depot = db_session.get(Depot, depot_id)
    if depot is None or depot.city_id != city_id:
        raise DepotNotFound(f"no depot {depot_id} in city {city_id}", field="depot_id")
    return depot


def get_all_depots(
    *, db_session: Session, city_id: int, limit: int = 50, offset: int = 0
) -> tuple[list[Depot], int]:
    """The city's depots in order of creation."""
    query = select(Depot).where(Depot.city_id == city_id).order_by(Depot.id)
    return page(db_session=db_session, query=query, limit=limit, offset=offset)


def create_depot(*, db_session: Session, city: City, depot_in: DepotCreate) -> Depot:
    """A new depot of the city."""
    depot = Depot(city_id=city.id, **depot_in.model_dump())
    save(db_session=db_session, obj=depot, field="name", reason="depot could not be stored")
    return depot


def update_depot(*, db_session: Session, depot: Depot, depot_in: DepotUpdate) -> Depot:
    """Apply the given changes to a depot."""
    apply(depot, depot_in.changes())
    db_session.flush()
    return depot


def delete_depot(*, db_session: Session, depot: Depot) -> None:
    """Delete a depot nothing refers to any more."""
    remove(
        db_session=db_session,
        obj=depot,
        field="depot_id",
        reason="the depot is still used (vans or routes refer to it)",
    )


# Window slots (the city's daily schedule)


def get_slot(*, db_session: Session, city_id: int, slot_id: int) -> WindowSlot:
    """The city's window slot with this id, or NotFound."""
    slot = db_session.get(WindowSlot, slot_id)
    if slot is None or slot.city_id != city_id:
        raise WindowSlotNotFound(f"no window slot {slot_id} in city {city_id}", field="slot_id")
    return slot


def get_slot_by_name(*, db_session: Session, city_id: int, name: str) -> WindowSlot | None:
    """The city's slot with this name, if any."""
    return db_session.scalar(
        select(WindowSlot).where(WindowSlot.city_id == city_id, WindowSlot.name == name)
    )


def get_all_slots(*, db_session: Session, city_id: int) -> list[WindowSlot]:
    """The city's daily slots, earliest ready-by first."""
    query = (
        select(WindowSlot)
        .where(WindowSlot.city_id == city_id)
        .order_by(WindowSlot.ready_by_local, WindowSlot.id)
    )
    return list(db_session.scalars(query))


def create_slot(*, db_session: Session, city: City, slot_in: WindowSlotCreate) -> WindowSlot:
    """A new daily slot; its name must be free in the city."""
    if get_slot_by_name(db_session=db_session, city_id=city.id, name=slot_in.name) is not None:
        raise SlotNameTaken(f"the city has a slot named {slot_in.name!r}", field="name")
    slot = WindowSlot(city_id=city.id, **slot_in.model_dump())
    save(
        db_session=db_session,
        obj=slot,
        field="name",
        reason="slot name taken",
        refusal=SlotNameTaken,
    )
    return slot


def update_slot(*, db_session: Session, slot: WindowSlot, slot_in: WindowSlotUpdate) -> WindowSlot:
    """Apply the given changes to a slot (windows already generated keep their times)."""
    changes = slot_in.changes()
    if "name" in changes and changes["name"] != slot.name:
        taken = get_slot_by_name(db_session=db_session, city_id=slot.city_id, name=changes["name"])
        if taken is not None:
            raise SlotNameTaken(f"the city has a slot named {changes['name']!r}", field="name")
    apply(slot, changes)
    save(
        db_session=db_session,
        obj=slot,
        field="name",
        reason="slot name taken",
        refusal=SlotNameTaken,
    )
    return slot


def delete_slot(*, db_session: Session, slot: WindowSlot) -> None:
    """Delete a slot: no new windows come from it; windows already generated stay."""
    remove(db_session=db_session, obj=slot, field="slot_id", reason="the slot is still used")
