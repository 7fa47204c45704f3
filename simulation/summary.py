"""The live terminal summary of a played day, and the invariant report (Rich)."""

from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from simulation.day import DayResult, DayState


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"


def live_panel(state: DayState) -> Panel:
    """The clock, the phase and the day's figures so far."""
    f: dict[str, Any] = state.figures
    clock = "-"
    if state.now is not None:
        clock = state.now.astimezone(ZoneInfo(state.timezone)).strftime("%a %d %b %H:%M")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("clock", f"{clock} ({state.timezone})   [cyan]{state.phase}[/cyan]")
    if f:
        table.add_row("orders", f"{f['orders']} placed, {f['cancelled']} cancelled")
        table.add_row("group buys", _pairs(f["groups"]))
        table.add_row("parcels", _pairs(f["parcels"]))
        table.add_row("routes", _pairs(f["routes"]))
        table.add_row("lockers", f"{f['lockers_online']}/{f['lockers']} online")
        table.add_row("SMS sent", str(f["sms"]))
        table.add_row("stops served", str(f["deliveries"]))
        table.add_row("collected", str(f["collected"]))
        if f["errors"]:
            table.add_row("[red]errors[/red]", str(f["errors"]))
    if state.base_url:
        table.add_row("API", f"{state.base_url}  (docs: {state.base_url}/docs)")
    return Panel(table, title="Pickup: a played day", border_style="green")


def report_table(result: DayResult) -> Group:
    """Each invariant with what it checked and what broke, then the day's counts."""
    table = Table(title="Invariants", show_lines=False)
    table.add_column("invariant")
    table.add_column("checked", justify="right")
    table.add_column("result")
    for check in result.report.checks:
        verdict = "[green]ok[/green]" if check.ok else f"[red]{len(check.failures)} broken[/red]"
        table.add_row(check.name, str(check.checked), verdict)
    counts = Table(title="End of day", show_header=False)
    for name, values in result.report.counts.items():
        counts.add_row(name, _pairs(values))
    counts.add_row("activity", _pairs(dict(result.stats)))
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    counts.add_row("wall time", f"{result.wall_s:.1f}s ({timing})")
    failures = Table(show_header=False, box=None)
    for check in result.report.checks:
        for failure in check.failures[:10]:
            failures.add_row(f"[red]{check.name}[/red]", failure)
    for error in result.errors[:10]:
        failures.add_row("[yellow]simulated user error[/yellow]", error)
    return Group(table, counts, failures)


def report_json(result: DayResult) -> dict[str, Any]:
    """The report as plain data (for tests and CI logs)."""
    return {
        "ok": result.report.ok,
        "checks": [
            {"name": c.name, "checked": c.checked, "failures": c.failures}
            for c in result.report.checks
        ],
        "counts": result.report.counts,
        "activity": dict(result.stats),
        "errors": result.errors,
        "wall_s": round(result.wall_s, 1),
        "timings": {k: round(v, 1) for k, v in result.timings.items()},
    }
