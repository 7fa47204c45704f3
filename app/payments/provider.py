"""The payment provider interface and its default: an internal ledger that moves no real money."""

from functools import lru_cache
from typing import Protocol


class PaymentProvider(Protocol):
    name: str

    def charge(self, *, resident_id: int, amount_minor: int, currency: str, key: str) -> str:
        """Take money from the resident; return the provider's reference. Idempotent by key."""
        ...

    def refund(self, *, resident_id: int, amount_minor: int, currency: str, key: str) -> str:
        """Give money back to the resident; return the provider's reference. Idempotent by key."""
        ...


class InternalLedgerProvider:
    """Records money movements only in our ledger (no card processor yet)."""

    name = "internal"

    def charge(self, *, resident_id: int, amount_minor: int, currency: str, key: str) -> str:
        return f"internal:{key}"

    def refund(self, *, resident_id: int, amount_minor: int, currency: str, key: str) -> str:
        return f"internal:{key}"


@lru_cache
def get_provider() -> PaymentProvider:
    """The configured payment provider."""
    return InternalLedgerProvider()
