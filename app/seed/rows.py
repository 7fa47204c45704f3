"""Shared tools of the city builder's steps: timed progress steps, bulk inserts, geometry."""

import math
import random
import time as clock
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.progress import Progress
from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.orm import Session

from app.seed import bulk

KM_PER_DEGREE = 111.32
Advance = Callable[[int], None]


def ignore_progress(n: int) -> None:
    """An `Advance` that reports nowhere."""


class Steps:
    """Times each step and drives one progress bar per step (if a Progress is given)."""

    def __init__(self, progress: Progress | None, timings: dict[str, float]) -> None:
        self.progress = progress
        self.timings = timings

    @contextmanager
    def step(self, name: str, total: int) -> Iterator[Advance]:
        task = self.progress.add_task(name, total=max(total, 1)) if self.progress else None

        def advance(n: int) -> None:
            if self.progress is not None and task is not None:
                self.progress.advance(task, n)

        started = clock.perf_counter()
        yield advance
        self.timings[name] = clock.perf_counter() - started
        if self.progress is not None and task is not None:
            self.progress.update(task, completed=max(total, 1))


def table_of(model: Any) -> Table:
    """The model's Table."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def insert(
    db_session: Session, model: Any, rows: Sequence[dict[str, Any]], advance: Advance
) -> None:
    """Bulk insert (COPY on PostgreSQL), advancing the progress bar per batch."""
    bulk.insert_rows(db_session, table_of(model), rows, advance)


def insert_then_ids(
    db_session: Session,
    model: Any,
    rows: Sequence[dict[str, Any]],
    advance: Advance,
    *,
    keys: tuple[str, ...],
    where: ColumnElement[bool],
) -> list[int]:
    """Bulk insert, then the new ids in the order of `rows`, found by their unique `keys`.

    (RETURNING in parameter order would make SQLite insert row by row: ten times slower.)"""
    insert(db_session, model, rows, advance)
    table = table_of(model)
    found = db_session.execute(select(table.c.id, *(table.c[k] for k in keys)).where(where))
    ids = {tuple(row[1:]): row[0] for row in found}
    return [ids[tuple(row[k] for k in keys)] for row in rows]


def round10(amount: float) -> int:
    """A price rounded to ten minor units, at least ten."""
    return max(10, int(round(amount / 10.0)) * 10)


def point(rng: random.Random, lat: float, lon: float, radius_km: float) -> tuple[float, float]:
    """A point uniformly spread over a disc of `radius_km` around (lat, lon)."""
    r = radius_km * math.sqrt(rng.random())
    theta = rng.random() * 2 * math.pi
    d_lat = (r * math.cos(theta)) / KM_PER_DEGREE
    d_lon = (r * math.sin(theta)) / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    return round(lat + d_lat, 6), round(lon + d_lon, 6)
