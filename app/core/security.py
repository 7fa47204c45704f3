"""Tokens, password hashing and keyed hashes for short codes, on maintained libraries."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.db import utcnow
from app.core.errors import NotAuthenticated
from app.core.limits import MAX_ID, MAX_INT
from app.core.settings import get_settings

Role = Literal["resident", "operator", "driver"]
_ALGORITHM = "HS256"


class InvalidToken(NotAuthenticated):
    """The bearer token is malformed, forged, expired or issued in the future."""

    case = "invalid_token"


class UnknownTokenRole(NotAuthenticated):
    """The bearer token names a role this API does not have."""

    case = "unknown_token_role"


_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a resident or a staff account, with its role."""

    subject_id: int
    role: Role
    # Which token (its `jti`, for signing it out) and the subject's token version it was
    # issued under (a password change or deactivation bumps the version, revoking it).
    token_id: str | None = None
    token_version: int = 0


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches its argon2 hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def hash_code(code: str, *, purpose: str) -> str:
    """A keyed hash (HMAC-SHA256) of a short code, so codes are never stored in clear."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def codes_match(stored_hash: str, code: str, *, purpose: str) -> bool:
    """Constant-time comparison of a code with its stored keyed hash."""
    return hmac.compare_digest(stored_hash, hash_code(code, purpose=purpose))


def new_numeric_code(digits: int = 6) -> str:
    """A random numeric code from the OS's secure generator."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def access_token_ttl() -> timedelta:
    """How long a new bearer token stays valid."""
    return timedelta(minutes=get_settings().access_token_minutes)


_IAT_LEEWAY_S = 60.0


def create_access_token(principal: Principal, *, now: datetime | None = None) -> str:
    """A signed bearer token for the principal, issued at `now` (default: the current time)."""
    settings = get_settings()
    now = now or utcnow()
    claims = {
        "sub": str(principal.subject_id),
        "role": principal.role,
        "iat": now,
        "exp": now + access_token_ttl(),
        "jti": secrets.token_hex(16),
        "ver": principal.token_version,
    }
    return jwt.encode(claims, settings.secret_key, algorithm=_ALGORITHM)


def decode_access_token(token: str) -> Principal:
    """The principal in a bearer token, or NotAuthenticated."""
    try:
        # PyJWT checks times against the wall clock; ours come from the one clock (simulated
        # in a played day), so the signature is verified here and the times below.
        claims = jwt.decode(
            token,
            get_settings().secret_key,
            algorithms=[_ALGORITHM],
            options={"require": ["exp"], "verify_exp": False, "verify_iat": False},
        )
        now = utcnow().timestamp()
        if not float(claims["exp"]) > now:
            raise InvalidToken("invalid or expired token", field="authorization")
        if float(claims.get("iat", now)) > now + _IAT_LEEWAY_S:
            raise InvalidToken("invalid or expired token", field="authorization")
        role = claims["role"]
        if role not in ("resident", "operator", "driver"):
            raise UnknownTokenRole("token has an unknown role", field="authorization")
        version = claims.get("ver", 0)
        token_id = claims.get("jti")
        if not isinstance(version, int) or not (token_id is None or isinstance(token_id, str)):
            raise InvalidToken("invalid or expired token", field="authorization")
        subject_id = int(claims["sub"])
        if not 0 < subject_id <= MAX_ID or not 0 <= version <= MAX_INT:  # the database's ints
            raise InvalidToken("invalid or expired token", field="authorization")
        return Principal(subject_id=subject_id, role=role, token_id=token_id, token_version=version)
    except (jwt.PyJWTError, KeyError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidToken("invalid or expired token", field="authorization") from exc
