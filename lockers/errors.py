"""The refusals several lockers modules (and their callers) share: a named case per situation."""

from app.core.errors import NotFound


class LockerBankNotFound(NotFound):
    """No locker bank with this id (in the caller's city)."""

    case = "locker_bank_not_found"


class CompartmentNotFound(NotFound):
    """No compartment with this id (in this bank)."""

    case = "compartment_not_found"


class ParcelNotFound(NotFound):
    """No parcel with this id (that the caller may act on)."""

    case = "parcel_not_found"


class LockerCommandNotFound(NotFound):
    """No locker command with this id that the caller may see."""

    case = "locker_command_not_found"
