"""The `pickup` command: serve, database, demo data, and each package's tools."""

import importlib

import typer
from rich.console import Console

from app.core.settings import get_settings

console = Console()
app = typer.Typer(
    help="Pickup: neighborhood group buys delivered by refrigerated van to smart lockers.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="Database schema: migrate and check.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# Sub-apps of packages, mounted when the package provides them: (module, name).
SUBCOMMANDS = (
    ("app.seed.cli", "seed"),
    ("logistics.cli", "logistics"),
    ("lockers.cli", "lockers"),
    ("notifications.cli", "notifications"),
)
for module_name, command_name in SUBCOMMANDS:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        continue
    app.add_typer(module.app, name=command_name)


try:
    from app.seed.cli import demo
except ModuleNotFoundError:  # pragma: no cover - seed package absent
    pass
else:
    app.command(help="Migrate, seed the demo city if absent, print the logins and serve.")(demo)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from app import dbtools

    url = get_settings().database_url
    dbtools.upgrade(url, revision)
    console.print(f"[green]Database at {revision}[/green]: {_redact(url)}")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrated database disagree (drift)."""
    from app import dbtools
    from app.core.db import get_engine

    differences = dbtools.drift(get_engine())
    if differences:
        for diff in differences:
            console.print(f"[red]drift[/red] {diff}")
        raise typer.Exit(1)
    console.print("[green]Models and migrations agree.[/green]")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind"),
    port: int = typer.Option(8000, help="Port to bind"),
    reload: bool = typer.Option(False, help="Reload on code changes (development)"),
) -> None:
    """Run the API server."""
    import uvicorn

    console.print(f"API on [bold]http://{host}:{port}[/bold]  (docs: /docs)")
    uvicorn.run(
        "app.embedded:create_app_with_embedded_services",
        factory=True,
        host=host,
        port=port,
        reload=reload,
    )


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


if __name__ == "__main__":
    app()
