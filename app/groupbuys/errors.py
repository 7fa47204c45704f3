"""The named refusals about group buys, shared by the group-buy modules and orders."""

from app.core.errors import Conflict, InvalidInput, NotFound


class GroupBuyNotFound(NotFound):
    """No group buy (of the city, or of the resident's neighborhood) has this id or token."""

    case = "group_buy_not_found"


class GroupBuyNotOpen(Conflict):
    """The group buy has already formed, failed or been cancelled."""

    case = "group_buy_not_open"


class GroupBuyHasOrders(Conflict):
    """Residents have ordered from the group buy; it cannot be deleted."""

    case = "group_buy_has_orders"


class DuplicateGroupBuy(Conflict):
    """The neighborhood already has a group buy for this product in this window."""

    case = "duplicate_group_buy"


class MinQuantityRequired(InvalidInput):
    """A group buy's minimum cannot be removed; give a positive number."""

    case = "min_quantity_required"


class StockCapBelowOrdered(InvalidInput):
    """The new stock cap is below the units already ordered."""

    case = "stock_cap_below_ordered"


class StockCapBelowMinimum(InvalidInput):
    """A stock cap below the minimum means the group can never form."""

    case = "stock_cap_below_minimum"


class CutoffNotPassed(Conflict):
    """The window cannot be closed before its cut-off."""

    case = "cutoff_not_passed"
