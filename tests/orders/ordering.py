"""Helpers of the ordering API tests."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def place(
    client: TestClient, window_id: int, lines: list[tuple[int, int]], key: str | None = None
) -> Any:
    """POST /orders with these (group buy, quantity) lines, under an idempotency key if given."""
    headers = {"Idempotency-Key": key} if key else {}
    body = {"window_id": window_id, "lines": [{"group_buy_id": g, "quantity": q} for g, q in lines]}
    return client.post("/orders", json=body, headers=headers)


def count_rows(db: Session, model: Any) -> int:
    """Rows of a table."""
    return db.scalar(select(func.count()).select_from(model)) or 0


def error_loc(response: Any) -> list[str]:
    """Where the first error of a 4xx body points (e.g. ["body", "lines", "0", "quantity"])."""
    return [str(part) for part in response.json()["detail"][0]["loc"]]
