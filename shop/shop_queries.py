"""What the window picker, the shop and the basket read: the catalog, with locker room."""

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.core.enums import TemperatureClass
from app.core.errors import InvalidInput
from app.groupbuys import resident_catalog
from app.groupbuys.schemas import CatalogGroupBuy, CatalogRead, CatalogWindow
from app.web.session import PageResident
from logistics import locker_capacity
from logistics.settings import get_logistics_settings

MAX_QUANTITY = 99
TEMPERATURE_ORDER = (TemperatureClass.CHILLED, TemperatureClass.FROZEN, TemperatureClass.AMBIENT)


class GroupBuyNotInWindow(InvalidInput):
    """The basket names a group buy the window does not offer."""

    case = "group_buy_not_in_window"


class QuantityKeyInvalid(InvalidInput):
    """A `qty_` field does not name a group buy id."""

    case = "quantity_key_invalid"


class QuantityInvalid(InvalidInput):
    """A quantity is not a whole number from 0 to MAX_QUANTITY."""

    case = "quantity_invalid"


@dataclass
class WindowChoice:
    """A window as the picker shows it, with the temperature classes its lockers cannot take."""

    window: CatalogWindow
    full_zones: list[str]


@dataclass
class ShopWindow:
    """One window's shop: its group buys by temperature class."""

    neighborhood_name: str
    window: CatalogWindow
    full_zones: list[str]
    sections: list[tuple[str, list[CatalogGroupBuy]]]


@dataclass
class BasketLine:
    group_buy: CatalogGroupBuy
    quantity: int

    @property
    def entry_total_minor(self) -> int:
        """What the line costs now, at the entry price."""
        return self.group_buy.entry_price_minor * self.quantity


@dataclass
class Basket:
    window: CatalogWindow
    lines: list[BasketLine] = field(default_factory=list)

    @property
    def total_minor(self) -> int:
        """What is paid now; the difference to the tier reached comes back at the cut-off."""
        return sum(line.entry_total_minor for line in self.lines)


def full_zones(db: Session, neighborhood_id: int, window_id: int) -> list[str]:
    """Temperature classes whose lockers are full for the window."""
    info = locker_capacity.capacity_for(
        db_session=db,
        neighborhood_id=neighborhood_id,
        window_id=window_id,
        fill_factor=get_logistics_settings().fill_factor,
    )
    return [tc.value for tc in TEMPERATURE_ORDER if info[tc].full]


def window_picker(db: Session, resident: PageResident) -> tuple[CatalogRead, list[WindowChoice]]:
    """The neighborhood's open windows with the locker room of each."""
    catalog = resident_catalog.catalog(db_session=db, resident=resident)
    choices = [
        WindowChoice(window=w, full_zones=full_zones(db, resident.neighborhood_id, w.id))
        for w in catalog.windows
    ]
    return catalog, choices


def shop_window(db: Session, resident: PageResident, window_id: int) -> ShopWindow:
    """The group buys of one window (open or not) of the resident's city."""
    catalog = resident_catalog.catalog(db_session=db, resident=resident, window_id=window_id)
    window = catalog.windows[0]
    by_class: dict[str, list[CatalogGroupBuy]] = defaultdict(list)
    for gb in window.group_buys:
        by_class[gb.product.temperature_class.value].append(gb)
    sections = [(tc.value, by_class[tc.value]) for tc in TEMPERATURE_ORDER if by_class[tc.value]]
    full = full_zones(db, resident.neighborhood_id, window.id) if window.is_open else []
    return ShopWindow(catalog.neighborhood_name, window, full, sections)


def basket(
    db: Session, resident: PageResident, window_id: int, quantities: dict[int, int]
) -> Basket:
    """The chosen group buys of a window with their quantities; unknown ones are bad input."""
    shop = shop_window(db, resident, window_id)
    offered = {gb.id: gb for gb in shop.window.group_buys}
    result = Basket(window=shop.window)
    for gb_id, quantity in quantities.items():
        if gb_id not in offered:
            raise GroupBuyNotInWindow("not a group buy of this window", field=f"qty_{gb_id}")
        if quantity > 0:
            result.lines.append(BasketLine(offered[gb_id], quantity))
    return result


def parse_quantities(values: dict[str, str]) -> dict[int, int]:
    """`qty_<group buy id>` fields as {id: quantity}; a bad one is InvalidInput naming it."""
    quantities: dict[int, int] = {}
    for key, raw in values.items():
        if not key.startswith("qty_"):
            continue
        suffix = key.removeprefix("qty_")
        text = raw.strip() or "0"
        if not suffix.isdigit() or not 0 < int(suffix) < 2**31:
            raise QuantityKeyInvalid("must name a group buy id", field=key)
        if not text.isdigit() or int(text) > MAX_QUANTITY:
            raise QuantityInvalid(f"must be a whole number from 0 to {MAX_QUANTITY}", field=key)
        quantities[int(suffix)] = int(text)
    return quantities
