"""The lockers' refusals that several modules (and their callers) share, and those of its API
(`lockers.routes`): a named case per situation."""

from app.core.errors import Forbidden, NotFound


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


class ParcelOnAnotherRoute(Forbidden):
    """The parcel is on another driver's route."""

    case = "parcel_on_another_route"


class RoleRequired(Forbidden):
    """The caller's role may not use this endpoint."""

    case = "role_required"


class StaffAccountDisabled(Forbidden):
    """The staff token's account is disabled or gone."""

    case = "staff_account_disabled"
