"""How a conformance run is shown: a line per clause as it goes, a table, or JSON for machines."""

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from lockers.conformance.runner import Clause, Result

MARKS = {
    "pass": "[green]PASS[/green]",
    "fail": "[red]FAIL[/red]",
    "error": "[red]ERROR[/red]",
    "skip": "[yellow]SKIP[/yellow]",
}


class Progress:
    """Prints each clause when it starts and its verdict when it ends (to stderr for --json)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.done = 0

    def __call__(self, item: Clause, result: Result | None) -> None:
        if result is None:
            self.console.print(f"[dim]… {item.section} {item.id}: {item.title}[/dim]")
            return
        self.done += 1
        line = f"{MARKS[result.status]} {item.id} ({result.seconds:.1f}s)"
        if result.detail:
            line += f" - {result.detail}"
        self.console.print(line, highlight=False)


def table(results: list[Result], *, bank: str) -> Table:
    passed = sum(1 for r in results if r.status == "pass")
    out = Table(
        title=f"Locker protocol conformance of {bank}: {passed}/{len(results)} clauses pass"
    )
    out.add_column("clause")
    out.add_column("§")
    out.add_column("requirement")
    out.add_column("result")
    out.add_column("detail", overflow="fold")
    for result in results:
        out.add_row(
            result.clause.id,
            result.clause.section,
            result.clause.title,
            MARKS[result.status],
            result.detail,
        )
    return out


def as_json(results: list[Result], *, bank: str, summary: dict[str, Any]) -> str:
    return json.dumps(
        {"bank": bank, **summary, "results": [r.as_dict() for r in results]}, indent=2
    )
