"""Placing an order stays a few statements (issue 16), and what they write is the whole order."""

from typing import Any

from sqlalchemy import event, select

from app.events.models import OutboxEvent
from app.groupbuys.models import GroupBuy
from app.orders import service as order_service
from app.orders.models import Order, OrderLine
from app.orders.schemas import OrderCreate
from app.payments.models import LedgerEntry


def test_a_new_order_of_two_lines_is_six_statements(world, make, db) -> None:  # type: ignore[no-untyped-def]
    pears = make.product()
    second = make.group_buy(neighborhood=world.hood, window=world.window, product=pears)
    db.commit()
    order_in = OrderCreate.model_validate(
        {
            "window_id": world.window.id,
            "lines": [
                {"group_buy_id": second.id, "quantity": 1},
                {"group_buy_id": world.gb.id, "quantity": 3},
            ],
        }
    )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    db.scalar(select(1))  # the test's own transaction (a savepoint) opens here, not below
    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = order_service.place(
            db_session=db, resident=world.resident, order_in=order_in, idempotency_key="few"
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # The read, a guarded UPDATE a line, the order with its lines, the ledger, the outbox: 6
    # for these two lines. SQLite: each line apart, and a read of names and entry prices: 9.
    assert len(statements) <= (6 if engine.dialect.name == "postgresql" else 9), statements
    assert not any("SAVEPOINT" in s for s in statements)
    db.commit()
    order = db.scalars(select(Order)).one()
    assert order.id == result.order.id and order.paid_minor == result.order.paid_minor == 4 * 1200
    lines = db.scalars(select(OrderLine).order_by(OrderLine.id)).all()
    assert [(line.id, line.group_buy_id, line.quantity) for line in lines] == [
        (line.id, line.group_buy_id, line.quantity) for line in result.order.lines
    ]
    assert [line.group_buy_id for line in lines] == [second.id, world.gb.id]  # request order
    assert [line.product_name for line in result.order.lines] == [
        pears.name,
        world.product.name,
    ]
    assert db.scalar(select(GroupBuy.ordered_quantity).where(GroupBuy.id == world.gb.id)) == 3
    entry = db.scalars(select(LedgerEntry)).one()
    assert (entry.order_id, entry.amount_minor) == (order.id, 4 * 1200)
    placed = db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "order.placed")).one()
    assert placed.payload["order_id"] == order.id and len(placed.payload["lines"]) == 2
