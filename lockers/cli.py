"""`pickup lockers ...`: the bridge, the embedded broker, the fleet simulator, and tools."""

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from app.core.settings import get_settings

console = Console()
app = typer.Typer(
    help="Smart lockers over MQTT: bridge, broker, simulator.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@app.command()
def bridge(
    mqtt_url: str = typer.Option(None, help="Broker URL (default: MQTT_URL setting)"),
    client_id: str = typer.Option(None, help="Fixed MQTT client id (persistent session)"),
    prefix: str = typer.Option(None, help="Topic prefix (default: LOCKERS_TOPIC_PREFIX)"),
) -> None:
    """Run the MQTT bridge: lockers' state/events/acks in, commands out.

    With MQTT_URL=embedded:// it also starts the in-process amqtt broker.
    """
    from lockers.bridge import Bridge

    # Hand the GIL over more often: the network thread answers sooner while workers run.
    sys.setswitchinterval(0.001)
    runner = Bridge(mqtt_url=mqtt_url, client_id=client_id, topic_prefix=prefix)
    console.print(
        f"[bold]locker bridge[/bold] {runner.client_id} -> {runner.target.url()} "
        f"(topics {runner.prefix}/+/...)  Ctrl-C to stop"
    )

    def report(b: Bridge) -> None:
        state = "[green]connected[/green]" if b.connected else "[red]disconnected[/red]"
        counts = ", ".join(f"{k}={v}" for k, v in sorted(b.stats.items()))
        console.print(f"{time.strftime('%H:%M:%S')} {state} {counts}")

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    runner.run_forever(report)


@app.command()
def broker(
    host: str = typer.Option(None, help="Address to bind (default LOCKERS_EMBEDDED_HOST)"),
    port: int = typer.Option(None, help="Port (default LOCKERS_EMBEDDED_PORT)"),
) -> None:
    """Run the embedded amqtt broker in the foreground (development only).

    Any username is accepted; production uses Mosquitto with deploy/mosquitto's ACL.
    """
    from lockers.broker import EmbeddedBroker
    from lockers.config import get_locker_settings

    settings = get_locker_settings()
    embedded = EmbeddedBroker(host or settings.embedded_host, port or settings.embedded_port)
    embedded.start()
    console.print(f"[bold]amqtt broker[/bold] on {embedded.target.url()}  Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        embedded.stop()


@app.command()
def simulate(
    banks: int = typer.Option(10, "--banks", "-n", help="How many virtual banks"),
    mqtt_url: str = typer.Option(None, help="Broker URL (default: MQTT_URL setting)"),
    prefix: str = typer.Option(None, help="Topic prefix (default: LOCKERS_TOPIC_PREFIX)"),
    from_db: bool = typer.Option(
        True, help="Use the database's banks and compartments (else generate sim-NNNN banks)"
    ),
    code_prefix: str = typer.Option("sim-", help="Code prefix of generated banks"),
    heartbeat: float = typer.Option(30.0, help="Seconds between state heartbeats"),
    auto_close: float = typer.Option(
        0.05, help="Seconds before a simulated driver closes an opened door (<0: never)"
    ),
    credentials: bool = typer.Option(
        False, help="Log in with each bank's derived password (Mosquitto with the ACL)"
    ),
    duration: float = typer.Option(0, help="Stop after this many seconds (0: until Ctrl-C)"),
    stats_file: Path = typer.Option(None, help="Write the fleet's counters here as JSON on exit"),
    interactive: bool = typer.Option(
        False, "--interactive", "-i", help="Read fault commands from stdin (type 'help')"
    ),
) -> None:
    """Run virtual locker banks over a real broker: keypad, doors, temperatures, faults."""
    from lockers.broker import parse_mqtt_url, start_embedded_if_configured
    from lockers.config import get_locker_settings
    from lockers.credentials import locker_password
    from lockers.simulator import BankSpec, Fleet, default_compartments

    url = mqtt_url or get_settings().mqtt_url
    target = parse_mqtt_url(url)
    specs = _bank_specs(banks, from_db=from_db, code_prefix=code_prefix)
    if not specs:
        specs = [
            BankSpec(code=f"{code_prefix}{i:04d}", compartments=default_compartments())
            for i in range(1, banks + 1)
        ]
    if credentials:
        for spec in specs:
            spec.password = locker_password(spec.code)
    embedded = None
    if target.embedded:
        try:
            embedded = start_embedded_if_configured(url)
        except RuntimeError:
            embedded = None  # already running (e.g. inside `pickup lockers bridge`)
    fleet = Fleet(
        target,
        prefix=prefix or get_locker_settings().topic_prefix,
        heartbeat_s=heartbeat,
        auto_close_s=auto_close if auto_close >= 0 else None,
    )
    for spec in specs:
        fleet.add_bank(spec)
    started = time.monotonic()
    fleet.start()
    console.print(f"[bold]simulating {len(specs)} banks[/bold] on {target.url()}")
    online = fleet.wait_online(timeout=60)
    console.print(
        f"{fleet.summary()['online']}/{len(specs)} online after "
        f"{time.monotonic() - started:.1f}s" + ("" if online else " [red](not all)[/red]")
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if interactive:
        threading.Thread(target=_repl, args=(fleet, stop), daemon=True).start()
    try:
        while not stop.wait(10.0):
            if duration and time.monotonic() - started >= duration:
                break
            if not interactive:
                summary = fleet.summary()
                console.print(
                    f"{time.strftime('%H:%M:%S')} online={summary['online']} "
                    f"commands={summary.get('commands_received', 0)} "
                    f"events={summary.get('events', 0)} acks={summary.get('acks', 0)}"
                )
    except KeyboardInterrupt:
        pass
    finally:
        summary = fleet.summary()
        fleet.stop()
        if embedded is not None:
            embedded.stop()
        if stats_file is not None:
            stats_file.write_text(json.dumps(summary, indent=2, default=str))
        console.print(summary)


def _bank_specs(count: int, *, from_db: bool, code_prefix: str) -> list[Any]:
    from lockers.simulator import BankSpec

    if not from_db:
        return []
    from app.core.db import get_sessionmaker
    from app.neighborhoods import queries as neighborhood_queries

    try:
        with get_sessionmaker()() as db:
            banks = neighborhood_queries.locker_banks(db_session=db, limit=count)
            compartments = neighborhood_queries.compartments_of_banks(
                db_session=db, bank_ids=[bank.id for bank in banks]
            )
            return [
                BankSpec(
                    code=bank.code,
                    compartments=[(c.label, c.zone.value) for c in compartments[bank.id]],
                )
                for bank in banks
            ]
    except Exception as exc:  # noqa: BLE001 - no database yet: generate banks instead
        console.print(
            f"[yellow]no banks from the database ({type(exc).__name__}); generating[/yellow]"
        )
        return []


_HELP = """commands:
  list                         banks and whether they are online
  show BANK                    a bank's compartments, codes, keypad
  code BANK CODE               type a pickup code on BANK's keypad
  qr BANK TEXT                 scan a pickup QR code
  drop BANK SECONDS            lose the network abruptly for SECONDS
  heat BANK ZONE TEMP|off      force a zone's temperature
  jam BANK LABEL [off]         jam (or free) a door
  mute BANK [off]              stop answering commands
  stats                        fleet counters
  quit"""


def _repl(fleet: Any, stop: threading.Event) -> None:
    console.print(_HELP)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "quit":
                stop.set()
                return
            console.print(_run_command(fleet, words))
        except (KeyError, IndexError, ValueError) as exc:
            console.print(f"[red]{exc!r}[/red] (type 'help')")
    stop.set()


def _run_command(fleet: Any, words: list[str]) -> Any:
    command, args = words[0], words[1:]
    if command == "help":
        return _HELP
    if command == "stats":
        return fleet.summary()
    if command == "list":
        table = Table("bank", "online", "codes")
        for code, bank in sorted(fleet.banks.items())[:200]:
            table.add_row(code, "yes" if bank.connected else "no", str(len(bank.codes)))
        return table
    bank = fleet.banks[args[0]]
    if command == "show":
        return bank.snapshot()
    if command == "code":
        return bank.enter_code(args[1])
    if command == "qr":
        return bank.scan_qr(args[1])
    if command == "drop":
        bank.drop_link(float(args[1]))
        return f"{bank.code}: link down for {args[1]}s"
    if command == "heat":
        bank.heat_zone(args[1], None if args[2] == "off" else float(args[2]))
        return f"{bank.code}: {args[1]} -> {args[2]}"
    if command == "jam":
        bank.jam_door(args[1], jammed=not (len(args) > 2 and args[2] == "off"))
        return f"{bank.code}: door {args[1]} jammed={not (len(args) > 2 and args[2] == 'off')}"
    if command == "mute":
        bank.mute(not (len(args) > 1 and args[1] == "off"))
        return f"{bank.code}: muted={bank.muted}"
    raise ValueError(f"unknown command {command}")


@app.command()
def expire() -> None:
    """Expire parcels past their pickup deadline now (the bridge also does it periodically)."""
    from app.core.db import get_sessionmaker
    from lockers import expiry

    with get_sessionmaker()() as db:
        ids = expiry.expire_overdue(db_session=db)
    console.print(f"expired {len(ids)} parcels" + (f": {ids[:20]}" if ids else ""))


@app.command()
def credentials(
    out: Path = typer.Option(..., help="Mosquitto password file to write"),
    bridge_user: str = typer.Option("pickup-bridge", help="The bridge's username"),
    bridge_password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        envvar="LOCKERS_BRIDGE_PASSWORD",
        help="The bridge's password (also in its MQTT_URL)",
    ),
) -> None:
    """Write the broker's password file: the bridge plus one login per bank (its code), from
    the stored hashes of issued passwords (`provision`), else the derived ones."""
    from app.core.db import get_sessionmaker
    from lockers.credentials import bank_logins, mosquitto_hash, write_hashed_password_file

    with get_sessionmaker()() as db:
        logins = bank_logins(db_session=db)
    count = write_hashed_password_file(
        out, [(bridge_user, mosquitto_hash(bridge_password)), *logins]
    )
    console.print(f"wrote {count} logins to {out} (Mosquitto $7$ hashes); reload the broker")


@app.command()
def provision(
    bank: str = typer.Option(..., "--bank", help="The bank's code"),
    rotate: bool = typer.Option(False, help="Issue a new password; the old one stops working"),
    passwd_file: Path = typer.Option(
        None, help="Broker password file to update (default LOCKERS_PASSWORD_FILE)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the sheet as one JSON object"),
) -> None:
    """Issue a bank's MQTT credentials once for its installer (or rotate them): username,
    password, broker URL, the CA to trust, topic prefix and compartment layout."""
    from app.core.db import get_sessionmaker
    from app.core.errors import DomainError
    from lockers import banks, provisioning

    with get_sessionmaker()() as db:
        row = banks.get_bank_by_code(db_session=db, code=bank)
        if row is None:
            console.print(f"[red]no locker bank {bank!r}[/red]")
            raise typer.Exit(2)
        try:
            sheet = provisioning.provision(
                db_session=db, bank=row, rotate=rotate, password_file=passwd_file
            )
        except DomainError as exc:
            console.print(f"[red]{exc.reason}[/red] (add --rotate)")
            raise typer.Exit(1) from exc
        db.commit()
    if as_json:
        print(sheet.model_dump_json(indent=2))
        return
    _print_sheet(sheet)


def _print_sheet(sheet: Any) -> None:
    console.print(f"[bold]Locker bank {sheet.bank_code}[/bold] (shown once: keep it safe)")
    for label, value in (
        ("client id / username", sheet.username),
        ("password", sheet.password),
        ("broker", sheet.broker_url),
        ("topic prefix", sheet.topic_prefix),
        ("CA certificate", sheet.ca_path or "(no TLS in the broker URL)"),
        ("password file updated", sheet.password_file or "(none: run `credentials --out`)"),
    ):
        console.print(f"  {label:<22} {value}", highlight=False, soft_wrap=True)
    layout = Table("label", "zone", "size", title="compartments")
    for compartment in sheet.compartments:
        layout.add_row(compartment.label, compartment.zone, compartment.size)
    console.print(layout)
    if sheet.ca_pem:
        print(sheet.ca_pem, end="")
    console.print("Reload the broker (systemctl reload mosquitto) to apply the new login.")


@app.command("broker-cert")
def broker_cert(
    host: str = typer.Option(..., help="The broker's name (or IP) as lockers connect to it"),
) -> None:
    """Sign a TLS certificate for the broker with the project CA (LOCKERS_CA_DIR)."""
    from lockers.config import get_locker_settings
    from lockers.pki import broker_certificate

    folder = Path(get_locker_settings().ca_dir)
    cert, key = broker_certificate(folder, host)
    console.print(f"cafile {folder / 'ca.pem'}\ncertfile {cert}\nkeyfile {key}")


from lockers.conformance.cli import conformance  # noqa: E402 - the conformance suite's own module

app.command("conformance")(conformance)
