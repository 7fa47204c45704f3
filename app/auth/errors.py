"""The named refusals of logging in and of calling with a token, shared by the auth modules
(and by staff logins)."""

from app.core.errors import Forbidden, InvalidInput, NotAuthenticated, TooManyRequests


class RateLimitExceeded(TooManyRequests):
    """Too many requests of this kind from this address or for this subject; wait Retry-After."""

    case = "rate_limit_exceeded"


class TooManyFailedLogins(TooManyRequests):
    """Recent failed logins earned a wait before the next try; wait Retry-After."""

    case = "too_many_failed_logins"


class MissingBearerToken(NotAuthenticated):
    """The endpoint needs `Authorization: Bearer <token>` and none was given."""

    case = "missing_bearer_token"


class TokenSignedOut(NotAuthenticated):
    """This very token was signed out; log in again."""

    case = "token_signed_out"


class TokenRevoked(NotAuthenticated):
    """All of the account's tokens were revoked (password change, role change); log in again."""

    case = "token_revoked"


class TokenWrongRole(NotAuthenticated):
    """The token's role does not match the account it names."""

    case = "token_wrong_role"


class AccountUnavailable(NotAuthenticated):
    """The token names an account that is disabled or no longer exists."""

    case = "account_unavailable"


class ResidentsOnly(Forbidden):
    """The endpoint is for residents; a staff token was given."""

    case = "residents_only"


class RoleRequired(Forbidden):
    """The endpoint needs another staff role than the caller's."""

    case = "role_required"


class AccountDisabled(Forbidden):
    """The account was disabled by an operator; logging in is refused."""

    case = "account_disabled"


class WrongLoginCode(NotAuthenticated):
    """The login code is wrong, or there is no live code for this number (tries count)."""

    case = "wrong_login_code"


class LoginCodeExpired(NotAuthenticated):
    """The login code is past its lifetime; request a new one."""

    case = "login_code_expired"


class LoginCodeUsed(NotAuthenticated):
    """The login code was already exchanged for a token (by a concurrent request)."""

    case = "login_code_used"


class NeighborhoodRequired(InvalidInput):
    """The number is not registered yet: give `neighborhood_id` to register it."""

    case = "neighborhood_required"


class SmsCountryNotAllowed(InvalidInput):
    """Login codes are not sent to numbers of this country."""

    case = "sms_country_not_allowed"


class WrongCredentials(NotAuthenticated):
    """The staff username or password is wrong."""

    case = "wrong_credentials"
