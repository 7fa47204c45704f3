"""The `pickup` command: serve, database, demo data, and each package's tools."""

import typer
from rich.console import Console

from app import serving
from app.clockwork.cli import tick as tick_command
from app.clockwork.cli import worker as worker_command
from app.core.settings import get_settings
from app.seed.cli import app as seed_app
from lockers.broker import PortInUse
from lockers.cli import app as lockers_app
from logistics.cli import app as logistics_app
from notifications.cli import app as notifications_app
from simulation.cli import day as day_command
from simulation.cli import demo

console = Console()
app = typer.Typer(
    help="Pickup: neighborhood group buys delivered by refrigerated van to smart lockers.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="Database schema: migrate and check.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(logistics_app, name="logistics")
app.add_typer(lockers_app, name="lockers")
notifications_app.command(name="tick")(tick_command)
notifications_app.command(name="worker")(worker_command)
app.add_typer(notifications_app, name="notifications")
sim_app = typer.Typer(help="Stand-ins for the outside world, run locally.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.command(name="demo")(demo)
app.command(name="day")(day_command)


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
    host: str = serving.HostOption,
    port: int | None = serving.PortOption,
    mqtt_port: int | None = serving.MqttPortOption,
    port_base: int | None = serving.PortBaseOption,
    reload: bool = typer.Option(False, help="Reload on code changes (development)"),
    workers: int = serving.WorkersOption,
    access_log: bool = serving.AccessLogOption,
    http: str = serving.HttpOption,
    loop: str = serving.LoopOption,
) -> None:
    """Run the API server (on the embedded defaults also the MQTT broker, the locker bridge
    and the clockwork). Every port it binds can be set; a taken port is named, with its option."""
    if reload and workers > 1:
        console.print("[red]Cannot start:[/red] --reload serves one process; drop --workers")
        raise typer.Exit(2)
    try:
        engine = serving.Engine(http=http, loop=loop, access_log=access_log)
    except ValueError as exc:
        console.print(f"[red]Cannot start:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        address = serving.prepare(host=host, port=port, mqtt_port=mqtt_port, port_base=port_base)
    except PortInUse as exc:
        console.print(f"[red]Cannot start:[/red] {exc}")
        raise typer.Exit(1) from exc
    broker = f", MQTT broker on port {address.mqtt_port}" if address.mqtt_port else ""
    console.print(f"API on [bold]{address.base_url}[/bold]  (docs: /docs){broker}")
    serving.run(address, reload=reload, workers=workers, engine=engine)


@sim_app.command("twilio")
def sim_twilio(
    port: int = typer.Option(8765, help="Port to listen on"),
    account_sid: str = typer.Option("AC" + "0" * 32, help="Account SID it accepts"),
    auth_token: str = typer.Option("fake-auth-token", help="Auth token it accepts"),
    callbacks: bool = typer.Option(True, help="Post signed status callbacks"),
) -> None:
    """Run a local server that speaks Twilio's Messages API (point TWILIO_BASE_URL at it)."""
    from simulation.twilio_server import FakeTwilio, FakeTwilioServer

    fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token, auto_callbacks=callbacks)
    fake.on_create = lambda m: console.print(f"[cyan]{m['sid']}[/cyan] to {m['to']}: {m['body']}")
    server = FakeTwilioServer(fake, port=port)
    console.print(
        f"Twilio Messages API on [bold]{server.base_url}[/bold]\n"
        f"  SMS_PROVIDER=twilio TWILIO_BASE_URL={server.base_url} "
        f"TWILIO_ACCOUNT_SID={account_sid} TWILIO_AUTH_TOKEN={auth_token} "
        "TWILIO_MESSAGING_SERVICE_SID=MG" + "0" * 32
    )
    server.serve_forever()


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


if __name__ == "__main__":
    app()
