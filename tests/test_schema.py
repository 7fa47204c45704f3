"""The migrations build exactly the schema the models describe."""

from sqlalchemy import Engine

from app import dbtools


def test_models_and_migrations_agree(engine: Engine) -> None:
    assert dbtools.drift(engine) == []


def test_factories_build_a_consistent_world(make) -> None:  # type: ignore[no-untyped-def]
    gb = make.group_buy()
    resident = make.resident()
    order = make.order(resident, [(gb, 3)])
    assert order.paid_minor == 3 * 1200
    assert gb.ordered_quantity == 3
