"""The refusals several logistics modules share: a named case per situation (the body's `code`)."""

from app.core.errors import NotFound


class WindowNotFound(NotFound):
    """No delivery window with this id (in the caller's city)."""

    case = "window_not_found"


class RouteNotFound(NotFound):
    """No route with this id that the caller may see (or drive)."""

    case = "route_not_found"


class VehicleNotFound(NotFound):
    """No van with this id in the city's fleet."""

    case = "vehicle_not_found"


class NeighborhoodNotFound(NotFound):
    """No neighborhood with this id that the caller may see."""

    case = "neighborhood_not_found"


class LockerBankNotFound(NotFound):
    """No locker bank with this id (in the city)."""

    case = "locker_bank_not_found"


class ParcelNotFound(NotFound):
    """No parcel with this id."""

    case = "parcel_not_found"
