"""`pickup lockers conformance`: the exit status, --json and --only, on the real broker."""

import json
import uuid

from typer.testing import CliRunner

from lockers.broker import MqttTarget
from lockers.cli import app
from tests.lockers.conftest import mqtt_url_of

runner = CliRunner()


def _url(target: MqttTarget) -> str:
    return mqtt_url_of(target)  # mqtt://: the broker is already running, embedded or not


def test_a_simulated_locker_passes_the_chosen_clauses_with_exit_0(mqtt_target: MqttTarget) -> None:
    result = runner.invoke(
        app,
        [
            "conformance",
            "--bank",
            f"cli-{uuid.uuid4().hex[:6]}",
            "--simulate",
            "--mqtt-url",
            _url(mqtt_target),
            "--prefix",
            f"cli{uuid.uuid4().hex[:6]}/lockers",
            "--only",
            "L-7.1",
            "--only",
            "L-9",
            "--quiet",
            "0.3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    ids = [r["id"] for r in report["results"]]
    assert ids == ["L-7.1"] + [f"L-9.{n}" for n in range(1, 10)]
    assert report["ok"] is True and report["pass"] == 10 and report["fail"] == 0
    assert {r["status"] for r in report["results"]} == {"pass"}


def test_no_locker_on_the_topic_fails_every_clause_with_exit_1(mqtt_target: MqttTarget) -> None:
    result = runner.invoke(
        app,
        [
            "conformance",
            "--bank",
            "nobody-here",
            "--mqtt-url",
            _url(mqtt_target),
            "--prefix",
            f"cli{uuid.uuid4().hex[:6]}/lockers",
            "--will-timeout",
            "1",
            "--only",
            "L-5",
            "--json",
        ],
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [r["id"] for r in report["results"]] == [f"L-5.{n}" for n in range(1, 6)]
    assert {r["status"] for r in report["results"]} == {"fail"}
    assert report["ok"] is False and report["fail"] == 5
    assert all(
        r["detail"].startswith("not prepared: no state with online: true")
        for r in report["results"]
    )
