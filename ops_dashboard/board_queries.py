"""Reading queries of the day board: one or two aggregate queries per panel, never one per row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.groupbuys.models import GroupBuy, GroupBuyStatus
from app.neighborhoods.models import Neighborhood
from app.orders.models import Order, OrderStatus
from app.windows import schedule as window_schedule
from app.windows.models import DeliveryWindow
from logistics.models import PipelineRun, PipelineStep, Route, RouteStatus, StepStatus
from ops_dashboard.alarm_rules import lateness

AT_RISK_BEFORE = timedelta(hours=1)
TOP_NEIGHBORHOODS = 12
NOT_REVENUE = (OrderStatus.CANCELLED, OrderStatus.GROUP_FAILED)
STEP_LABELS = {
    "close": "closed",
    "pack": "packed",
    "reserve": "reserved",
    "route": "routed",
    "publish": "published",
}
STEP_KIND = {
    StepStatus.PENDING: "unassigned",
    StepStatus.RUNNING: "transit",
    StepStatus.DONE: "done",
    StepStatus.FAILED: "failed",
}


@dataclass
class WindowPanel:
    """One window on the board."""

    window: DeliveryWindow
    orders: int = 0
    revenue_minor: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    steps: list[tuple[str, str]] = field(default_factory=list)
    routes: Counter[RouteStatus] = field(default_factory=Counter)
    late: list[tuple[str, int]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """Still taking orders."""
        return self.window.status.value == "open"


@dataclass
class HoodRow:
    """A neighborhood's group buys in one window."""

    id: int
    name: str
    forming: int
    at_risk: int
    formed: int
    failed: int


@dataclass
class Board:
    """Everything the day board shows."""

    windows: list[WindowPanel]
    focus: WindowPanel | None
    hoods: list[HoodRow]
    hoods_with_trouble: int
    now: datetime


def board_windows(db_session: Session, city_id: int, timezone: str, now: datetime) -> list[int]:
    """Today's windows of the city and the next one after them, by cut-off."""
    today = window_schedule.local_today(window_schedule.zone(timezone), now)
    todays = list(
        db_session.scalars(
            select(DeliveryWindow.id)
            .where(DeliveryWindow.city_id == city_id, DeliveryWindow.local_date == today)
            .order_by(DeliveryWindow.cutoff_at)
        )
    )
    following = db_session.scalar(
        select(DeliveryWindow.id)
        .where(DeliveryWindow.city_id == city_id, DeliveryWindow.local_date > today)
        .order_by(DeliveryWindow.cutoff_at)
        .limit(1)
    )
    return todays + ([following] if following is not None else [])


def _panels(db_session: Session, ids: list[int], now: datetime) -> dict[int, WindowPanel]:
    windows = db_session.scalars(
        select(DeliveryWindow).where(DeliveryWindow.id.in_(ids)).order_by(DeliveryWindow.cutoff_at)
    )
    panels = {w.id: WindowPanel(w) for w in windows}
    for window_id, orders, revenue in db_session.execute(
        select(
            Order.window_id,
            func.count(),
            func.coalesce(func.sum(func.coalesce(Order.charged_minor, Order.paid_minor)), 0),
        )
        .where(Order.window_id.in_(ids), Order.status.not_in(NOT_REVENUE))
        .group_by(Order.window_id)
    ):
        panels[window_id].orders, panels[window_id].revenue_minor = orders, int(revenue)
    for window_id, group_status, below, count in db_session.execute(
        select(
            GroupBuy.window_id,
            GroupBuy.status,
            GroupBuy.ordered_quantity < GroupBuy.min_quantity,
            func.count(),
        )
        .where(GroupBuy.window_id.in_(ids))
        .group_by(
            GroupBuy.window_id, GroupBuy.status, GroupBuy.ordered_quantity < GroupBuy.min_quantity
        )
    ):
        panel = panels[window_id]
        if GroupBuyStatus(group_status) == GroupBuyStatus.OPEN:
            near = panel.window.cutoff_at - now <= AT_RISK_BEFORE
            panel.groups["at_risk" if below and near else "forming"] += count
        else:
            panel.groups[GroupBuyStatus(group_status).value] += count
    for window_id, name, step_status in db_session.execute(
        select(PipelineRun.window_id, PipelineStep.name, PipelineStep.status)
        .join(PipelineStep, PipelineStep.run_id == PipelineRun.id)
        .where(PipelineRun.window_id.in_(ids))
        .order_by(PipelineRun.window_id, PipelineStep.position)
    ):
        panels[window_id].steps.append(
            (STEP_LABELS.get(name, name), STEP_KIND[StepStatus(step_status)])
        )
    for window_id, route_status, count in db_session.execute(
        select(Route.window_id, Route.status, func.count())
        .where(Route.window_id.in_(ids))
        .group_by(Route.window_id, Route.status)
    ):
        panels[window_id].routes[RouteStatus(route_status)] += count
    return panels


def _late_vans(db_session: Session, panels: dict[int, WindowPanel], now: datetime) -> None:
    late = lateness(db_session, now, list(panels))
    if not late:
        return
    windows = dict(
        db_session.execute(select(Route.id, Route.window_id).where(Route.id.in_(list(late)))).all()
    )
    for route_id, delay in late.items():
        if delay.minutes > 0:
            panels[windows[route_id]].late.append((delay.van, delay.minutes))
    for panel in panels.values():
        panel.late.sort(key=lambda item: -item[1])


def neighborhoods(
    db_session: Session, window: DeliveryWindow, now: datetime, limit: int = TOP_NEIGHBORHOODS
) -> tuple[list[HoodRow], int]:
    """The window's group buys by neighborhood, worst first (failed, at risk), the top `limit`,
    and how many neighborhoods have one failed or at risk."""
    near = window.cutoff_at - now <= AT_RISK_BEFORE
    is_open = GroupBuy.status == GroupBuyStatus.OPEN
    below = GroupBuy.ordered_quantity < GroupBuy.min_quantity
    at_risk = func.sum(case((is_open & below, 1), else_=0)) if near else func.sum(0)
    forming = func.sum(case((is_open, 1), else_=0)) - at_risk
    formed = func.sum(case((GroupBuy.status == GroupBuyStatus.FORMED, 1), else_=0))
    failed = func.sum(case((GroupBuy.status == GroupBuyStatus.FAILED, 1), else_=0))
    trouble = failed + at_risk
    query = (
        select(Neighborhood.id, Neighborhood.name, forming, at_risk, formed, failed)
        .join(GroupBuy, GroupBuy.neighborhood_id == Neighborhood.id)
        .where(GroupBuy.window_id == window.id)
        .group_by(Neighborhood.id, Neighborhood.name)
    )
    rows = db_session.execute(
        query.order_by(trouble.desc(), forming.desc(), Neighborhood.name).limit(limit)
    ).all()
    counted = db_session.scalar(
        select(func.count()).select_from(query.having(trouble > 0).subquery())
    )
    hoods = [
        HoodRow(hood_id, name, int(a), int(b), int(c), int(d)) for hood_id, name, a, b, c, d in rows
    ]
    return hoods, int(counted or 0)


def focus_window(panels: list[WindowPanel], now: datetime) -> WindowPanel | None:
    """The window an operator watches now: the first whose pickup deadline is ahead."""
    return next(
        (p for p in panels if p.window.pickup_deadline > now), panels[-1] if panels else None
    )


def load_board(db_session: Session, city_id: int, timezone: str, now: datetime) -> Board:
    """The whole board for the city at `now`."""
    ids = board_windows(db_session, city_id, timezone, now)
    panels = _panels(db_session, ids, now) if ids else {}
    if panels:
        _late_vans(db_session, panels, now)
    ordered = list(panels.values())
    focus = focus_window(ordered, now)
    hoods, trouble = neighborhoods(db_session, focus.window, now) if focus else ([], 0)
    return Board(ordered, focus, hoods, trouble, now)
