"""Reading queries of the day board: one or two aggregate queries per panel, never one per row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.groupbuys.queries import (
    GroupBuyStatus,
    group_buy_counts_by_window,
    group_buys_by_neighborhood,
)
from app.orders.queries import OrderStatus, order_count_and_revenue_by_window
from app.windows import schedule as window_schedule
from app.windows.queries import WindowView, window_ids_of_day_and_next, windows_by_cutoff
from logistics.route_queries import (
    RouteStatus,
    StepStatus,
    pipeline_steps_of_windows,
    route_status_counts_of_windows,
)
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

    window: WindowView
    orders: int = 0
    revenue_minor: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    steps: list[tuple[str, str]] = field(default_factory=list)
    routes: Counter[RouteStatus] = field(default_factory=Counter)
    late: list[tuple[str, int]] = field(default_factory=list)

    @property
    def open(self) -> bool:
        """Still taking orders."""
        return self.window.status == "open"


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
    return window_ids_of_day_and_next(db_session, city_id, today)


def _panels(db_session: Session, ids: list[int], now: datetime) -> dict[int, WindowPanel]:
    panels = {w.id: WindowPanel(w) for w in windows_by_cutoff(db_session, ids)}
    for window_id, (orders, revenue) in order_count_and_revenue_by_window(
        db_session, ids, NOT_REVENUE
    ).items():
        panels[window_id].orders, panels[window_id].revenue_minor = orders, revenue
    for window_id, group_status, below, count in group_buy_counts_by_window(db_session, ids):
        panel = panels[window_id]
        if group_status == GroupBuyStatus.OPEN:
            near = panel.window.cutoff_at - now <= AT_RISK_BEFORE
            panel.groups["at_risk" if below and near else "forming"] += count
        else:
            panel.groups[group_status.value] += count
    for window_id, name, step_status in pipeline_steps_of_windows(db_session, ids):
        panels[window_id].steps.append((STEP_LABELS.get(name, name), STEP_KIND[step_status]))
    for window_id, route_status, count in route_status_counts_of_windows(db_session, ids):
        panels[window_id].routes[route_status] += count
    return panels


def _late_vans(db_session: Session, panels: dict[int, WindowPanel], now: datetime) -> None:
    for delay in lateness(db_session, now, list(panels)).values():
        if delay.minutes > 0:
            panels[delay.window_id].late.append((delay.van, delay.minutes))
    for panel in panels.values():
        panel.late.sort(key=lambda item: -item[1])


def neighborhoods(
    db_session: Session, window: WindowView, now: datetime, limit: int = TOP_NEIGHBORHOODS
) -> tuple[list[HoodRow], int]:
    """The window's group buys by neighborhood, worst first (failed, at risk), the top `limit`,
    and how many neighborhoods have one failed or at risk."""
    near = window.cutoff_at - now <= AT_RISK_BEFORE
    counted, trouble = group_buys_by_neighborhood(
        db_session, window.id, count_at_risk=near, limit=limit
    )
    hoods = [HoodRow(h.id, h.name, h.forming, h.at_risk, h.formed, h.failed) for h in counted]
    return hoods, trouble


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
