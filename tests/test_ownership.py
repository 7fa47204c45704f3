"""The table-ownership trace (tests/ownership.py) sees who writes: the owner, a foreign package,
test code; and the generic plumbing of app.core passes the write on to its caller."""

from sqlalchemy.orm import Session

from app.orders.models import Order
from tests import ownership


def _as_module(name: str, body: str) -> dict[str, object]:
    scope: dict[str, object] = {"__name__": name}
    exec(compile(body, f"<{name}>", "exec"), scope)  # noqa: S102 (a function "in" that module)
    return scope


def test_a_foreign_package_writing_a_table_is_seen(db: Session, make, world) -> None:  # type: ignore[no-untyped-def]
    order = make.order(world.resident, [(world.gb, 1)])
    before = dict(ownership._seen)
    lockers_code = _as_module("lockers.somewhere", "def write(o):\n    o.paid_minor = 1\n")
    orders_code = _as_module("app.orders.somewhere", "def write(o):\n    o.paid_minor = 2\n")
    orders_code["write"](order)  # type: ignore[operator]
    assert dict(ownership._seen) == before  # the owner
    order.paid_minor = 3
    assert dict(ownership._seen) == before  # test code
    lockers_code["write"](order)  # type: ignore[operator]
    found = [key for key in ownership._seen if key not in before]
    assert [(writer, table) for writer, table, _ in found] == [("lockers", "orders")]
    for key in found:  # this test's own foreign write is not the suite's
        del ownership._seen[key]


def test_every_table_has_an_owner() -> None:
    owners = ownership._owners()
    assert owners["orders"] == "app.orders" and owners["parcels"] == "logistics"
    assert (
        owners["locker_commands"] == "lockers"
        and owners["notification_messages"] == "notifications"
    )
    assert isinstance(Order.__table__.name, str)
