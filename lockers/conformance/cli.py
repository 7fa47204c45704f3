"""`pickup lockers conformance --bank CODE`: the conformance suite from the command line."""

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import typer
from rich.console import Console

from lockers.broker import MqttTarget, parse_mqtt_url


@contextlib.contextmanager
def simulated_locker(target: MqttTarget, *, bank: str, prefix: str) -> Iterator[Any]:
    """The project's simulator as the locker under test, with its test hooks listening."""
    from lockers.broker import start_embedded_if_configured
    from lockers.conformance.sim_hooks import SimHookListener
    from lockers.simulator import BankSpec, Fleet, default_compartments

    embedded = start_embedded_if_configured(target.url()) if target.embedded else None
    fleet = Fleet(target, prefix=prefix, heartbeat_s=5, auto_close_s=None, reconnect_min_s=0.2)
    locker = fleet.add_bank(BankSpec(code=bank, compartments=default_compartments()))
    fleet.start()
    hooks = SimHookListener(locker, target, prefix=prefix).start()
    try:
        fleet.wait_online(10)
        yield locker
    finally:
        hooks.stop()
        fleet.stop()
        if embedded is not None:
            embedded.stop()


def conformance(
    bank: str = typer.Option(..., "--bank", help="The bank code of the locker under test"),
    mqtt_url: str = typer.Option(None, help="Broker URL (default: MQTT_URL setting)"),
    username: str = typer.Option(None, help="Broker login (default: from the URL)"),
    password: str = typer.Option(
        None, envvar="LOCKERS_CONFORMANCE_PASSWORD", help="Broker password (default: the URL's)"
    ),
    ca_file: str = typer.Option(None, help="CA certificate to check the broker's (mqtts://)"),
    prefix: str = typer.Option(None, help="Topic prefix (default: LOCKERS_TOPIC_PREFIX)"),
    hooks: str = typer.Option(
        "mqtt", help="How physical actions happen: mqtt (the test topic) or operator (prompts)"
    ),
    only: list[str] = typer.Option(
        None, help="Run only this clause (L-7.1) or section (L-9); repeatable"
    ),
    timeout: float = typer.Option(10.0, help="Seconds an answer from the locker may take"),
    quiet: float = typer.Option(2.0, help="Seconds to watch for something that must not happen"),
    will_timeout: float = typer.Option(60.0, help="Seconds for the last will / a reconnect"),
    labels: str = typer.Option(
        None, help="The provisioned compartment labels, comma-separated (checked by L-5.3)"
    ),
    probe_host: str = typer.Option(
        "127.0.0.1",
        help="This machine's address as the locker reaches it: L-2.4 listens there with a "
        "certificate from a stranger CA and asks the locker to connect",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout"),
    simulate: bool = typer.Option(
        False, help="Test the project's own simulated locker (a demonstration of the suite)"
    ),
) -> None:
    """Check a locker against every MUST of docs/locker-protocol.md, over the real broker.

    The suite plays the server: stop the bridge for this bank (or use a test prefix).
    Protocol §18 tells what it needs. Exit status 0 only when no clause fails.
    """
    from app.core.settings import get_settings
    from lockers.config import get_locker_settings
    from lockers.conformance import report
    from lockers.conformance.hooks import MqttHooks, OperatorHooks
    from lockers.conformance.link import ServerLink
    from lockers.conformance.runner import Options
    from lockers.conformance.session import run_conformance, summary

    target = parse_mqtt_url(mqtt_url or get_settings().mqtt_url)
    if username or password:
        target = replace(target, username=username or target.username, password=password)
    topic_prefix = prefix or get_locker_settings().topic_prefix
    if hooks not in ("mqtt", "operator"):
        raise typer.BadParameter("--hooks must be mqtt or operator")
    console = Console(stderr=as_json)
    options = Options(
        timeout_s=timeout,
        quiet_s=quiet,
        will_timeout_s=will_timeout,
        labels=[label.strip() for label in labels.split(",")] if labels else None,
        probe_host=probe_host,
    )
    link = ServerLink(target, bank=bank, prefix=topic_prefix, ca_file=ca_file)
    chosen_hooks: Any = MqttHooks if hooks == "mqtt" else OperatorHooks()
    console.print(f"[bold]conformance of {bank}[/bold] on {target.url()} ({topic_prefix}/{bank}/…)")
    with (
        simulated_locker(target, bank=bank, prefix=topic_prefix)
        if simulate
        else contextlib.nullcontext()
    ):
        results = run_conformance(
            link, chosen_hooks, options=options, only=only, progress=report.Progress(console)
        )
    totals = summary(results)
    if as_json:
        sys.stdout.write(report.as_json(results, bank=bank, summary=totals) + "\n")
    else:
        console.print(report.table(results, bank=bank))
    raise typer.Exit(0 if totals["ok"] else 1)
