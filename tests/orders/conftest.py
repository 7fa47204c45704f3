"""Fixtures for order tests: a small neighborhood world."""

from dataclasses import dataclass

import pytest

from app.catalog.models import Product
from app.cities.models import City
from app.groupbuys.models import GroupBuy
from app.neighborhoods.models import Neighborhood
from app.residents.models import Resident
from app.staff.models import StaffUser
from app.windows.models import DeliveryWindow
from tests.factories import Factory


@dataclass
class World:
    city: City
    hood: Neighborhood
    window: DeliveryWindow
    resident: Resident
    gb: GroupBuy
    product: Product


@pytest.fixture
def world(make: Factory) -> World:
    """A neighborhood with one resident and one open group buy (tiers 12.00 / 9.90 / 8.90)."""
    city = make.default_city()
    hood = make.neighborhood()
    window = make.window()
    product = make.product()
    gb = make.group_buy(
        neighborhood=hood, window=window, product=product, min_quantity=10, stock_cap=40
    )
    resident = make.resident(hood)
    return World(city, hood, window, resident, gb, product)


@pytest.fixture
def other_city_operator(make: Factory) -> StaffUser:
    """An operator of another city."""
    return make.operator(city=make.city())
