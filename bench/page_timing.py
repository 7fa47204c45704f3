"""Time pages the way a browser asks for them, in-process, on the mid-day city.

Each page is requested through the real app (routing, the cookie session, the role check, the
queries, the template) with `TestClient`, after warm-up requests; the figure is the server
time of one request (median and p95 of `--repeat`). `/healthz` and a JSON API call are timed
in the same run as the floor and the comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
COMPARISON = float("inf")  # a row timed beside the pages, with no target of its own


@dataclass(frozen=True)
class Page:
    """One page to time: a label, its path, who asks, and its target in milliseconds."""

    label: str
    path: str
    who: str
    target_ms: float


@dataclass
class Timing:
    page: Page
    status: int
    median_ms: float
    p95_ms: float
    kilobytes: float

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.p95_ms < self.page.target_ms


def use_database(url: str) -> None:
    """Point this process's settings and engine at `url` (before the app is built)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("ENVIRONMENT", "development")
    from app.core import db, settings

    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()


def time_pages(
    pages: Sequence[Page], cookies: dict[str, str], *, repeat: int, warmup: int = 2
) -> list[Timing]:
    """Request each page `warmup + repeat` times; the timings of the last `repeat`."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.web.session import SESSION_COOKIE

    results = []
    with TestClient(create_app(), follow_redirects=False) as client:
        for page in pages:
            client.cookies.clear()
            headers = {}
            if page.who.endswith("api"):
                headers["Authorization"] = f"Bearer {cookies[page.who]}"
            elif page.who in cookies:
                client.cookies.set(SESSION_COOKIE, cookies[page.who])
            samples: list[float] = []
            status, size = 0, 0
            for index in range(warmup + repeat):
                started = time.perf_counter()
                answer = client.get(page.path, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                status, size = answer.status_code, len(answer.content)
                if index >= warmup:
                    samples.append(elapsed)
            samples.sort()
            p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
            results.append(Timing(page, status, statistics.median(samples), p95, size / 1024))
            mark = "[green]ok[/green]" if results[-1].ok else "[red]over[/red]"
            console.print(
                f"{page.label:<34} {status} median {results[-1].median_ms:7.1f} ms  "
                f"p95 {p95:7.1f} ms  {size / 1024:7.1f} KB  {mark}"
            )
    return results


def table(results: Sequence[Timing], title: str) -> Table:
    """The results as a Rich table for the terminal."""
    view = Table(title=title)
    for column in ("Page", "Status", "Median ms", "p95 ms", "Target ms", "KB"):
        view.add_column(column)
    for item in results:
        view.add_row(
            item.page.label,
            str(item.status),
            f"{item.median_ms:.1f}",
            f"{item.p95_ms:.1f}",
            "-" if item.page.target_ms == COMPARISON else f"{item.page.target_ms:.0f}",
            f"{item.kilobytes:.1f}",
        )
    return view


def markdown(results: Sequence[Timing], describe: Callable[[Page], str]) -> str:
    """The results as a Markdown table for docs/benchmarks*.md."""
    lines = [
        "| Page | Path | Status | Median | p95 | Target | Size |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in results:
        verdict = "" if item.ok else " **over**"
        target = (
            "comparison" if item.page.target_ms == COMPARISON else f"< {item.page.target_ms:.0f} ms"
        )
        lines.append(
            f"| {item.page.label} | `{describe(item.page)}` | {item.status} | "
            f"{item.median_ms:.1f} ms | {item.p95_ms:.1f} ms{verdict} | "
            f"{target} | {item.kilobytes:.0f} KB |"
        )
    return "\n".join(lines) + "\n"


def run_cli(
    description: str, title: str, pages_for: Callable[[Any, dict[str, int]], list[Page]]
) -> None:
    """The benchmarks' command line: time `pages_for(city, ids)` on the mid-day city, print
    the table, write Markdown with `--write`, exit 1 when a page misses its target."""
    import midday_city

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--write", type=Path, default=None, help="markdown file to write")
    args = parser.parse_args()
    city = midday_city.build()
    use_database(city.url)
    cookies, ids = midday_city.sessions_and_ids(city)
    results = time_pages(pages_for(city, ids), cookies, repeat=args.repeat)
    console.print(table(results, title))
    if args.write:
        args.write.write_text(markdown(results, lambda page: page.path))
    sys.exit(0 if all(r.ok for r in results) else 1)
