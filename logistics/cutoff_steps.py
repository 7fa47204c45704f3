"""The five steps of a window's cut-off: close, pack, reserve, route, publish.

Each step takes a session and the run's context, does only what is left (so a re-run never
duplicates anything), commits, and returns its counts for the run's report. The run around
them (lease, step bookkeeping, the report) is `logistics.pipeline`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.groupbuys import closing
from logistics import lifecycle, packing, planning, reservation
from logistics.models import Parcel, ParcelStatus, PipelineRun, PipelineStep, Route, RouteStatus
from logistics.settings import LogisticsSettings
from logistics.solve_outside import plan_without_holding

STEPS = ("close", "pack", "reserve", "route", "publish")

# on_event(step, phase, done, total): phase is "start", "progress", "done", "skipped" or "failed".
StepEvent = Callable[[str, str, int, int], None]


@dataclass(frozen=True)
class StepContext:
    """What every cut-off step of one run is given."""

    window_id: int
    now: datetime | None
    time_limit_s: float | None
    settings: LogisticsSettings
    on_event: StepEvent | None


def _progress(ctx: StepContext, name: str) -> Callable[[int, int], None] | None:
    """A progress callback reporting as `name`'s "progress" events, when anyone listens."""
    emit = ctx.on_event
    if emit is None:
        return None

    def report(done: int, total: int) -> None:
        emit(name, "progress", done, total)

    return report


def close(db_session: Session, ctx: StepContext) -> dict[str, Any]:
    """Close the window's group buys: formed or failed, orders confirmed or not (commits)."""
    summary = closing.close_window(db_session=db_session, window_id=ctx.window_id, now=ctx.now)
    db_session.commit()
    return {
        "orders_confirmed": summary.orders_confirmed,
        "orders_group_failed": summary.orders_group_failed,
        "group_buys_formed": summary.group_buys_formed,
        "group_buys_failed": summary.group_buys_failed,
        "neighborhoods_finalized_now": summary.neighborhoods_finalized_now,
    }


def pack(db_session: Session, ctx: StepContext) -> dict[str, Any]:
    """Pack the window's confirmed orders not packed yet into parcels (commits)."""
    result = packing.pack_window(
        db_session=db_session,
        window_id=ctx.window_id,
        fill_factor=ctx.settings.fill_factor,
        batch_size=ctx.settings.batch_size,
        on_progress=_progress(ctx, "pack"),
    )
    db_session.commit()
    total = db_session.scalar(
        select(func.count()).select_from(Parcel).where(Parcel.window_id == ctx.window_id)
    )
    return {
        "orders_packed_now": result.orders_packed,
        "parcels_created_now": result.parcels_created,
        "split_orders_now": result.split_orders,
        "oversize_parcels_now": result.oversize_parcels,
        "parcels_total": int(total or 0),
    }


def reserve(db_session: Session, ctx: StepContext) -> dict[str, Any]:
    """Book compartments for the window's parcels without one (commits)."""
    result = reservation.reserve_window(
        db_session=db_session,
        window_id=ctx.window_id,
        batch_size=ctx.settings.batch_size,
        on_progress=_progress(ctx, "reserve"),
    )
    db_session.commit()
    counts = dict(
        db_session.execute(
            select(Parcel.status, func.count())
            .where(Parcel.window_id == ctx.window_id)
            .group_by(Parcel.status)
        ).all()
    )
    unplaced = db_session.scalar(
        select(func.count())
        .select_from(Parcel)
        .where(
            Parcel.window_id == ctx.window_id,
            Parcel.compartment_id.is_(None),
            Parcel.unplaced_reason.is_not(None),
        )
    )
    return {
        "reserved_now": result.reserved,
        "overflowed_now": result.overflowed,
        "unplaced_now": result.unplaced,
        "contended_rounds": result.contended_rounds,
        "parcels_reserved": int(counts.get(ParcelStatus.RESERVED, 0)),
        "parcels_unplaced": int(unplaced or 0),
    }


def depart_after(db_session: Session, window_id: int, settings: LogisticsSettings) -> datetime:
    """When vans may leave: the pack step's end plus the physical packing time."""
    run = db_session.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
    packed_at = None
    if run is not None:
        packed_at = db_session.scalar(
            select(PipelineStep.finished_at).where(
                PipelineStep.run_id == run.id, PipelineStep.name == "pack"
            )
        )
    return (packed_at or utcnow()) + timedelta(minutes=settings.packing_minutes)


def route(db_session: Session, ctx: StepContext) -> dict[str, Any]:
    """Plan the window's routes once, vans leaving after packing (commits)."""
    leave = depart_after(db_session, ctx.window_id, ctx.settings)
    if ctx.on_event:
        ctx.on_event("route", "progress", 0, 1)
    result = plan_without_holding(  # the solve holds no lock: deposits and orders go on
        db_session,
        lambda solver: planning.plan_window(
            db_session=db_session,
            window_id=ctx.window_id,
            depart_after=leave,
            time_limit_s=ctx.time_limit_s,
            settings=ctx.settings,
            solver=solver,
        ),
        settings=ctx.settings,
        time_limit_s=ctx.time_limit_s or ctx.settings.solver_time_limit_s,
    )
    db_session.commit()
    return {
        "depart_after": leave.isoformat(),
        "skipped": result.skipped,
        "routes": result.routes,
        "stops": result.stops,
        "vehicles_available": result.vehicles_available,
        "parcels_routed": result.parcels_routed,
        "unassigned_stops": len(result.unassigned),
        "distance_km": round(result.distance_m / 1000, 1),
        "solver_runtime_s": round(result.solver_runtime_s, 2),
    }


def publish(db_session: Session, ctx: StepContext) -> dict[str, Any]:
    """Publish the planned routes and emit the parcels' reservations (commits)."""
    planned = db_session.scalars(
        select(Route).where(Route.window_id == ctx.window_id, Route.status == RouteStatus.PLANNED)
    ).all()
    for route in planned:
        lifecycle.transition(route, RouteStatus.PUBLISHED)
    events = reservation.emit_reserved_events(db_session=db_session, window_id=ctx.window_id)
    db_session.commit()
    return {"routes_published_now": len(planned), "events_now": events}


STEP_FUNCTIONS: dict[str, Callable[[Session, StepContext], dict[str, Any]]] = {
    "close": close,
    "pack": pack,
    "reserve": reserve,
    "route": route,
    "publish": publish,
}
