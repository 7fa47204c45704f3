"""Pure pricing rules: tier validation, the tier a total reaches, progress text, money display.

A tier `(min_quantity, unit_price_minor)` means: from `min_quantity` units ordered in total by
the neighborhood, every unit costs `unit_price_minor`. The first tier starts at 1 unit and has
the highest price; residents pay it when they order and are refunded the difference at the
cut-off when a cheaper tier is reached.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.core.errors import InvalidInput

# Units a tier list can hold at most, and the highest price a unit may have (minor units).
MAX_TIERS = 10
MAX_UNIT_PRICE_MINOR = 10_000_000

# Digits after the decimal point, for the few currencies that do not use two.
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "KWD": 3, "BHD": 3}
_SYMBOLS = {
    "CNY": "¥",
    "JPY": "¥",
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "HKD": "HK$",
    "SGD": "S$",
    "KRW": "₩",
    "INR": "₹",
}


class TierLike(Protocol):
    @property
    def min_quantity(self) -> int: ...

    @property
    def unit_price_minor(self) -> int: ...


@dataclass(frozen=True)
class Tier:
    min_quantity: int
    unit_price_minor: int


@dataclass(frozen=True)
class Progress:
    """Where a group buy stands: the price now, and the next threshold worth reaching."""

    total: int
    minimum_reached: bool
    current_unit_price_minor: int
    target_quantity: int | None
    target_unit_price_minor: int | None
    text: str


class TiersRequired(InvalidInput):
    """A group buy needs at least one price tier."""

    case = "tiers_required"


class TooManyTiers(InvalidInput):
    """A group buy has at most MAX_TIERS price tiers."""

    case = "too_many_tiers"


class TierQuantityTooLow(InvalidInput):
    """A tier's min_quantity must be at least 1."""

    case = "tier_quantity_too_low"


class TierPriceOutOfRange(InvalidInput):
    """A tier's unit price must be between 1 and MAX_UNIT_PRICE_MINOR minor units."""

    case = "tier_price_out_of_range"


class FirstTierNotAtOne(InvalidInput):
    """The first price tier must start at 1 unit."""

    case = "first_tier_not_at_one"


class TierQuantityNotAscending(InvalidInput):
    """Each tier's min_quantity must be greater than the previous tier's."""

    case = "tier_quantity_not_ascending"


class TierPriceNotDescending(InvalidInput):
    """Each tier's unit price must be lower than the previous tier's."""

    case = "tier_price_not_descending"


def validate_tiers(tiers: Sequence[TierLike], *, field: str = "tiers") -> None:
    """Refuse tiers that are empty, not from 1 unit, not ascending, or not strictly cheaper."""
    if not tiers:
        raise TiersRequired("give at least one price tier", field=field)
    if len(tiers) > MAX_TIERS:
        raise TooManyTiers(f"at most {MAX_TIERS} price tiers", field=field)
    for i, tier in enumerate(tiers):
        if tier.min_quantity < 1:
            raise TierQuantityTooLow("must be at least 1", field=f"{field}.{i}.min_quantity")
        if not 0 < tier.unit_price_minor <= MAX_UNIT_PRICE_MINOR:
            raise TierPriceOutOfRange(
                f"must be between 1 and {MAX_UNIT_PRICE_MINOR}",
                field=f"{field}.{i}.unit_price_minor",
            )
        if i == 0:
            if tier.min_quantity != 1:
                raise FirstTierNotAtOne(
                    "the first tier must start at 1 unit", field=f"{field}.0.min_quantity"
                )
            continue
        previous = tiers[i - 1]
        if tier.min_quantity <= previous.min_quantity:
            raise TierQuantityNotAscending(
                f"must be greater than the previous tier's {previous.min_quantity}",
                field=f"{field}.{i}.min_quantity",
            )
        if tier.unit_price_minor >= previous.unit_price_minor:
            raise TierPriceNotDescending(
                f"must be lower than the previous tier's {previous.unit_price_minor}",
                field=f"{field}.{i}.unit_price_minor",
            )


def entry_price(tiers: Sequence[TierLike]) -> int:
    """The price paid when ordering: the first tier's (the highest)."""
    return tiers[0].unit_price_minor


def tier_for(tiers: Sequence[TierLike], total: int) -> TierLike:
    """The tier a neighborhood total reaches (the first tier below 1 unit)."""
    reached = tiers[0]
    for tier in tiers:
        if tier.min_quantity <= total:
            reached = tier
        else:
            break
    return reached


def price_at(tiers: Sequence[TierLike], total: int) -> int:
    """The unit price everyone pays when the neighborhood orders `total` units."""
    return tier_for(tiers, total).unit_price_minor


def minor_digits(currency: str) -> int:
    """How many decimal digits the currency's minor unit has."""
    return _MINOR_DIGITS.get(currency.upper(), 2)


def format_money(amount_minor: int, currency: str) -> str:
    """An amount in minor units for display, e.g. 890 CNY -> '¥8.90'."""
    digits = minor_digits(currency)
    sign = "-" if amount_minor < 0 else ""
    value = abs(amount_minor)
    if digits:
        whole, frac = divmod(value, 10**digits)
        number = f"{whole:,}.{frac:0{digits}d}"
    else:
        number = f"{value:,}"
    symbol = _SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency.upper()} {number}"


def progress(
    tiers: Sequence[TierLike], *, total: int, min_quantity: int, currency: str
) -> Progress:
    """The price now and the next threshold, with text like '14 of 20 to unlock ¥8.90'."""
    current = price_at(tiers, total)
    thresholds = sorted(
        # The first tier (from 1 unit) is the entry price, not a threshold to reach.
        {t.min_quantity for t in tiers[1:] if t.min_quantity > total}
        | ({min_quantity} if min_quantity > total else set())
    )
    if not thresholds:
        text = f"{total} ordered: best price {format_money(current, currency)} reached"
        return Progress(total, True, current, None, None, text)
    target = thresholds[0]
    target_price = price_at(tiers, target)
    minimum_reached = total >= min_quantity
    if target_price < current:
        text = f"{total} of {target} to unlock {format_money(target_price, currency)}"
    else:
        text = f"{total} of {target} to form the group at {format_money(target_price, currency)}"
    return Progress(total, minimum_reached, current, target, target_price, text)
