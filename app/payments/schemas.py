"""Payments schemas: an order's ledger as operators see it."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.payments.models import EntryKind


class LedgerEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: EntryKind
    amount_minor: int
    currency: str
    provider: str
    provider_reference: str
    reason: str
    idempotency_key: str
    created_at: datetime


class OrderLedgerRead(BaseModel):
    """Every charge and refund of one order; `balance_minor` is charges minus refunds."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_id": 501,
                    "resident_id": 88,
                    "currency": "CNY",
                    "order_status": "confirmed",
                    "paid_minor": 3600,
                    "charged_minor": 2670,
                    "balance_minor": 2670,
                    "balance_display": "¥26.70",
                    "entries": [
                        {
                            "id": 1,
                            "kind": "charge",
                            "amount_minor": 3600,
                            "currency": "CNY",
                            "provider": "internal",
                            "provider_reference": "internal:order:501:placed",
                            "reason": "order placed at entry prices",
                            "idempotency_key": "order:501:placed",
                            "created_at": "2026-11-23T09:15:02Z",
                        },
                        {
                            "id": 2,
                            "kind": "refund",
                            "amount_minor": 930,
                            "currency": "CNY",
                            "provider": "internal",
                            "provider_reference": "internal:order:501:close-diff",
                            "reason": "cut-off: tier price reached and failed lines refunded",
                            "idempotency_key": "order:501:close-diff",
                            "created_at": "2026-11-23T22:00:04Z",
                        },
                    ],
                }
            ]
        }
    )

    order_id: int
    resident_id: int
    currency: str
    order_status: str
    paid_minor: int
    charged_minor: int | None
    balance_minor: int
    balance_display: str
    entries: list[LedgerEntryRead]
