"""The named refusals of placing and cancelling orders."""

from typing import Any

from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound

IDEMPOTENCY_HEADER = "Idempotency-Key"


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was already used for a different request body."""

    code = "idempotency_key_reused"

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["detail"][0]["loc"] = ["header", IDEMPOTENCY_HEADER]
        return data


class OrderNotFound(NotFound):
    """No order (of the resident, or of the operator's city) has this id."""

    case = "order_not_found"


class NeighborhoodNotServed(Conflict):
    """The resident's neighborhood is not served at the moment (deactivated)."""

    case = "neighborhood_not_served"


class DuplicateOrderLine(InvalidInput):
    """Two lines of the order name the same group buy."""

    case = "duplicate_order_line"


class UnknownGroupBuy(InvalidInput):
    """A line names a group buy that does not exist."""

    case = "unknown_group_buy"


class GroupBuyOfOtherNeighborhood(Forbidden):
    """A line names a group buy of another neighborhood than the resident's."""

    case = "group_buy_of_other_neighborhood"


class GroupBuyOfOtherWindow(InvalidInput):
    """A line names a group buy of another delivery window than the order's."""

    case = "group_buy_of_other_window"


class ProductDiscontinued(Conflict):
    """A line's product is no longer sold."""

    case = "product_discontinued"


class StockExhausted(Conflict):
    """The group buy's stock cap leaves fewer units than the line asks for."""

    case = "stock_exhausted"


class OrderNotPlaced(Conflict):
    """Only placed orders can be cancelled."""

    case = "order_not_placed"


class GroupBuyFinalized(Conflict):
    """A group buy of the order was finalized meanwhile; the order can no longer be cancelled."""

    case = "group_buy_finalized"


class OrderChangedMeanwhile(Conflict):
    """The order changed status while it was being cancelled."""

    case = "order_changed_meanwhile"
