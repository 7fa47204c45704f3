"""Pickup codes that are never stored: derived from the server secret, the parcel and a nonce.

The database keeps only the keyed hash (to check a code, and to push to the locker) and the
nonce; the clear code is re-derived when an SMS is rendered or the resident opens the app.
A new nonce gives a new code (collision within a bank, or a reissue after a leak).
"""

import hashlib
import hmac

from app.core.security import hash_code
from app.core.settings import get_settings

CODE_DIGITS = 6
PURPOSE = "pickup"


def pickup_code(*, parcel_id: int, nonce: int) -> str:
    """The 6-digit pickup code of a parcel at a nonce."""
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, f"pickup-code:{parcel_id}:{nonce}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def pickup_code_hash(*, parcel_id: int, nonce: int) -> str:
    """The stored (and locker-pushed) keyed hash of the parcel's code."""
    return hash_code(pickup_code(parcel_id=parcel_id, nonce=nonce), purpose=PURPOSE)
