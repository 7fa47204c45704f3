"""The day board: today's windows and the next, orders and revenue, group buys by
neighborhood worst first, the pipeline's steps and the routes; the live fragment."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.groupbuys.models import GroupBuyStatus
from app.orders.models import OrderStatus
from app.windows import schedule as window_schedule
from app.windows.models import DeliveryWindow, WindowStatus
from logistics.models import PipelineRun, PipelineStep, RunStatus, StepStatus
from ops_dashboard import board_queries
from tests.factories import Factory


def _today(make: Factory) -> tuple[DeliveryWindow, DeliveryWindow, DeliveryWindow]:
    city = make.default_city()
    today = window_schedule.local_today(window_schedule.zone(city.timezone), utcnow())
    morning = make.window(
        cutoff_in=timedelta(minutes=-30), local_date=today, status=WindowStatus.CLOSED
    )
    evening = make.window(cutoff_in=timedelta(minutes=40), local_date=today, slot_name="evening")
    tomorrow = make.window(cutoff_in=timedelta(hours=20), local_date=today + timedelta(days=1))
    return morning, evening, tomorrow


def test_the_board_counts_each_window_in_a_few_aggregate_queries(
    db: Session, make: Factory
) -> None:
    morning, evening, tomorrow = _today(make)
    make.window(cutoff_in=timedelta(days=3), local_date=tomorrow.local_date + timedelta(days=2))
    calm, trouble = make.neighborhood(name="Calm"), make.neighborhood(name="Trouble")
    product = make.product()
    full = make.group_buy(neighborhood=calm, window=evening, product=product, min_quantity=2)
    short = make.group_buy(neighborhood=trouble, window=evening, product=product, min_quantity=9)
    make.group_buy(
        neighborhood=trouble, window=morning, product=product, status=GroupBuyStatus.FAILED
    )
    make.order(make.resident(calm), [(full, 3)])
    make.order(make.resident(trouble), [(short, 1)])
    make.order(make.resident(trouble), [(short, 1)], status=OrderStatus.CANCELLED)
    run = PipelineRun(window_id=morning.id, status=RunStatus.RUNNING)
    run.steps = [
        PipelineStep(name=name, position=i, status=StepStatus.DONE if i < 2 else StepStatus.PENDING)
        for i, name in enumerate(("close", "pack", "reserve", "route", "publish"))
    ]
    db.add(run)
    db.flush()

    board = board_queries.load_board(db, morning.city_id, "Asia/Shanghai", utcnow())

    assert [p.window.id for p in board.windows] == [morning.id, evening.id, tomorrow.id]
    panel = board.windows[1]
    assert panel.orders == 2 and panel.revenue_minor == 4 * 1200
    assert panel.groups == {"forming": 1, "at_risk": 1}
    assert board.windows[0].groups == {"failed": 1}
    assert board.windows[0].steps[:3] == [
        ("closed", "done"),
        ("packed", "done"),
        ("reserved", "unassigned"),
    ]
    assert board.focus is not None and board.focus.window.id == morning.id
    hoods, trouble_count = board_queries.neighborhoods(db, evening, utcnow())
    assert [h.name for h in hoods] == ["Trouble", "Calm"] and trouble_count == 1
    assert hoods[0].at_risk == 1 and hoods[1].forming == 1


def test_the_page_and_its_fragment(db: Session, make: Factory, operator, page_client_for) -> None:  # type: ignore[no-untyped-def]
    _, evening, _ = _today(make)
    gb = make.group_buy(window=evening)
    make.order(make.resident(), [(gb, 2)])
    client = page_client_for(operator)
    html = client.get("/ops").text
    assert 'id="board-panels"' in html and "data-until=" in html and "¥24.00" in html
    assert 'data-orders="1"' in html
    fragment = client.get("/ops/board/panels")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "sse:order.placed" in fragment.text
