"""Provisioning a locker bank (protocol §11): credentials issued once and stored hashed,
rotation, the operators' API, the CLI, the password file a real Mosquitto accepts (and stops
accepting after a rotation), and the CA a locker trusts for the broker's TLS certificate."""

import json
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import app.core.db
from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods.models import LockerBank
from lockers import credentials, pki, provisioning
from lockers.cli import app as lockers_cli
from lockers.config import get_locker_settings
from tests.factories import Factory
from tests.lockers.conftest import World
from tests.support import mosquitto

needs_mosquitto = pytest.mark.skipif(
    not mosquitto.available(), reason="mosquitto / mosquitto_passwd not installed"
)


def _bank(make: Factory) -> LockerBank:
    bank = make.locker_bank(make.neighborhood(make.city()), code="prov-0001")
    for label, zone in (("A1", TemperatureClass.CHILLED), ("F1", TemperatureClass.FROZEN)):
        make.compartment(bank, label=label, zone=zone, size=CompartmentSize.M)
    return bank


def test_a_password_is_issued_once_stored_hashed_and_rotated(make: Factory, db: Session) -> None:
    bank = _bank(make)
    sheet = provisioning.provision(db_session=db, bank=bank)
    row = db.get(credentials.LockerCredential, bank.id)
    assert row is not None and sheet.password not in row.password_hash
    assert credentials.mosquitto_hash_matches(sheet.password, row.password_hash)
    assert sheet.username == sheet.client_id == "prov-0001"
    assert sheet.topics["commands"] == f"{get_locker_settings().topic_prefix}/prov-0001/commands"
    assert [(c.label, c.zone) for c in sheet.compartments] == [("A1", "chilled"), ("F1", "frozen")]
    with pytest.raises(Exception, match="rotate"):
        provisioning.provision(db_session=db, bank=bank)
    again = provisioning.provision(db_session=db, bank=bank, rotate=True)
    assert again.password != sheet.password and again.rotated
    assert not credentials.mosquitto_hash_matches(sheet.password, row.password_hash)


def test_the_operators_api_returns_the_secret_once(
    make: Factory, db: Session, client_for: Callable[[Any], Any]
) -> None:
    bank = _bank(make)
    operator = client_for(make.operator())
    url = f"/lockers/banks/{bank.id}/credentials"

    assert client_for(make.resident()).post(url).status_code == 403
    first = operator.post(url)
    assert first.status_code == 201, first.text
    assert first.json()["password"] and first.json()["compartments"][0]["label"] == "A1"
    second = operator.post(url, json={"rotate": False})
    assert second.status_code == 409 and second.json()["detail"][0]["loc"][-1] == "rotate"
    rotated = operator.post(url, json={"rotate": True})
    assert rotated.status_code == 201 and rotated.json()["password"] != first.json()["password"]
    assert operator.post("/lockers/banks/999999/credentials").status_code == 404


def _connect(port: int, user: str, password: str, *, ca: Path | None = None) -> bool:
    """Whether the broker accepts this login (CONNACK success)."""
    done, seen = threading.Event(), {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-probe")
    client.username_pw_set(user, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        seen["ok"] = not reason.is_failure
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        assert done.wait(5), "no CONNACK"
        return bool(seen["ok"])
    finally:
        client.disconnect()
        client.loop_stop()


@needs_mosquitto
def test_the_cli_sheet_logs_in_to_mosquitto_and_a_rotation_locks_the_old_one_out(
    world: World,
    committed: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app.core.db, "get_sessionmaker", lambda: committed)
    passwd = tmp_path / "passwd"
    runner = CliRunner()
    args = ["provision", "--bank", world.bank.code, "--passwd-file", str(passwd), "--json"]
    issued = runner.invoke(lockers_cli, args)
    assert issued.exit_code == 0, issued.output
    sheet = json.loads(issued.output)
    assert {c["label"] for c in sheet["compartments"]} == set(world.compartments)
    refused = runner.invoke(lockers_cli, args)
    assert refused.exit_code == 1 and "rotate" in refused.output

    broker = mosquitto.MosquittoProcess(tmp_path / "mosq", password_file=passwd).start()
    try:
        assert _connect(broker.port, world.bank.code, sheet["password"])
        assert not _connect(broker.port, world.bank.code, "not-the-password")
        rotated = runner.invoke(lockers_cli, [*args, "--rotate"])
        assert rotated.exit_code == 0, rotated.output
        new = json.loads(rotated.output)["password"]
        broker.restart(down_for=0.1)  # an operator reloads the broker
        assert _connect(broker.port, world.bank.code, new)
        assert not _connect(broker.port, world.bank.code, sheet["password"])
    finally:
        broker.stop()


@needs_mosquitto
def test_the_whole_password_file_keeps_issued_hashes_and_derived_ones(
    world: World, committed: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.core.db, "get_sessionmaker", lambda: committed)
    other = world.make.locker_bank(world.hood, code=f"{world.bank.code}-b")
    world.db.commit()
    with committed() as db:
        bank = db.get(LockerBank, world.bank.id)
        assert bank is not None
        password = credentials.issue_password(db_session=db, bank=bank, rotate=False)
        db.commit()
    out = tmp_path / "passwd"
    result = CliRunner().invoke(
        lockers_cli, ["credentials", "--out", str(out), "--bridge-password", "bridge-secret"]
    )
    assert result.exit_code == 0, result.output
    broker = mosquitto.MosquittoProcess(tmp_path / "mosq", password_file=out).start()
    try:
        assert _connect(broker.port, world.bank.code, password)
        assert not _connect(broker.port, world.bank.code, credentials.locker_password(bank.code))
        assert _connect(broker.port, other.code, credentials.locker_password(other.code))
        assert _connect(broker.port, "pickup-bridge", "bridge-secret")
    finally:
        broker.stop()


@needs_mosquitto
def test_a_locker_trusting_the_provisioned_ca_reaches_the_broker_over_tls(
    make: Factory, db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = mosquitto.MosquittoProcess(tmp_path / "mosq", users=[("pickup-bridge", "x")])
    monkeypatch.setenv("LOCKERS_PUBLIC_BROKER_URL", f"mqtts://127.0.0.1:{broker.port}")
    monkeypatch.setenv("LOCKERS_CA_DIR", str(tmp_path / "ca"))
    monkeypatch.setenv("LOCKERS_PASSWORD_FILE", str(tmp_path / "mosq" / "passwd"))
    get_locker_settings.cache_clear()
    bank = _bank(make)
    sheet = provisioning.provision(db_session=db, bank=bank)
    assert sheet.tls and sheet.ca_path and sheet.ca_pem
    ca = x509.load_pem_x509_certificate(sheet.ca_pem.encode())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert, key = pki.broker_certificate(tmp_path / "ca", "127.0.0.1")
    with broker.config.open("a") as config:
        config.write(f"certfile {cert}\nkeyfile {key}\n")  # the listener speaks TLS
    broker.start()
    try:
        assert _connect(broker.port, bank.code, sheet.password, ca=Path(sheet.ca_path))
        stranger = pki.ensure_project_ca(tmp_path / "other-ca")
        with pytest.raises(ssl.SSLError):
            _connect(broker.port, bank.code, sheet.password, ca=stranger)
    finally:
        broker.stop()


def test_an_operator_supplied_ca_is_handed_out_as_is(
    make: Factory, db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = pki.ensure_project_ca(tmp_path / "theirs")
    monkeypatch.setenv("LOCKERS_PUBLIC_BROKER_URL", "mqtts://mqtt.example.org:8883")
    monkeypatch.setenv("LOCKERS_CA_CERT", str(own))
    monkeypatch.setenv("LOCKERS_CA_DIR", str(tmp_path / "unused"))
    get_locker_settings.cache_clear()
    sheet = provisioning.provision(db_session=db, bank=_bank(make))
    assert sheet.ca_path == str(own) and sheet.ca_pem == own.read_text()
    assert not (tmp_path / "unused").exists()
