"""Pure pricing rules: tier validation, the tier a total reaches, progress text, money."""

import pytest

from app.core.errors import InvalidInput
from app.groupbuys import pricing
from app.groupbuys.pricing import Tier

TIERS = [Tier(1, 1200), Tier(10, 990), Tier(20, 890)]


def test_valid_tiers_pass() -> None:
    pricing.validate_tiers(TIERS)
    pricing.validate_tiers([Tier(1, 500)])


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ([], "tiers"),
        ([Tier(2, 1200)], "tiers.0.min_quantity"),
        ([Tier(0, 1200)], "tiers.0.min_quantity"),
        ([Tier(1, 0)], "tiers.0.unit_price_minor"),
        ([Tier(1, -5)], "tiers.0.unit_price_minor"),
        ([Tier(1, 1200), Tier(10, 1200)], "tiers.1.unit_price_minor"),
        ([Tier(1, 1200), Tier(10, 1300)], "tiers.1.unit_price_minor"),
        ([Tier(1, 1200), Tier(10, 990), Tier(10, 890)], "tiers.2.min_quantity"),
        ([Tier(1, 1200), Tier(10, 990), Tier(5, 890)], "tiers.2.min_quantity"),
        ([Tier(i + 1, 2000 - i) for i in range(pricing.MAX_TIERS + 1)], "tiers"),
    ],
)
def test_bad_tiers_are_refused_naming_the_field(tiers: list[Tier], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        pricing.validate_tiers(tiers)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("total", "price"),
    [
        (0, 1200),  # nothing ordered: the entry price
        (1, 1200),
        (9, 1200),  # one below a boundary
        (10, 990),  # exactly at a boundary
        (11, 990),
        (19, 990),
        (20, 890),  # exactly at the highest tier
        (5000, 890),  # far above the highest tier
    ],
)
def test_price_at_each_edge(total: int, price: int) -> None:
    assert pricing.price_at(TIERS, total) == price


def test_entry_price_is_the_first_and_highest() -> None:
    assert pricing.entry_price(TIERS) == 1200


@pytest.mark.parametrize(
    ("total", "min_quantity", "text", "minimum_reached"),
    [
        (14, 10, "14 of 20 to unlock ¥8.90", True),
        (4, 10, "4 of 10 to unlock ¥9.90", False),
        (0, 10, "0 of 10 to unlock ¥9.90", False),
        (12, 15, "12 of 15 to form the group at ¥9.90", False),
        (16, 15, "16 of 20 to unlock ¥8.90", True),
        (20, 10, "20 ordered: best price ¥8.90 reached", True),
        (35, 10, "35 ordered: best price ¥8.90 reached", True),
    ],
)
def test_progress_text(total: int, min_quantity: int, text: str, minimum_reached: bool) -> None:
    state = pricing.progress(TIERS, total=total, min_quantity=min_quantity, currency="CNY")
    assert state.text == text
    assert state.minimum_reached is minimum_reached
    assert state.current_unit_price_minor == pricing.price_at(TIERS, total)


def test_progress_names_the_next_target() -> None:
    state = pricing.progress(TIERS, total=14, min_quantity=10, currency="CNY")
    assert (state.target_quantity, state.target_unit_price_minor) == (20, 890)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (890, "CNY", "¥8.90"),
        (123456, "EUR", "€1,234.56"),
        (5, "USD", "$0.05"),
        (1500, "JPY", "¥1,500"),
        (990, "CHF", "CHF 9.90"),
        (-210, "CNY", "-¥2.10"),
        (1234, "KWD", "KWD 1.234"),
    ],
)
def test_format_money(amount: int, currency: str, shown: str) -> None:
    assert pricing.format_money(amount, currency) == shown
