"""What an installer needs to bring a locker bank online, issued once ([S-11.1], §11).

`provision` issues (or, with `rotate`, replaces) the bank's MQTT password and returns it with
the broker URL, the CA to trust, the topic prefix and the compartment layout; the broker's
password file (`LOCKERS_PASSWORD_FILE`, or the one the caller names) gets the bank's new login
at once. The CLI (`pickup lockers provision`) and the operators' API
(`POST /lockers/banks/{id}/credentials`) both call it. Runs in the caller's transaction.
"""

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.core.settings import get_settings
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import LockerBankView
from lockers import credentials, pki
from lockers.config import get_locker_settings

TLS_SCHEMES = ("mqtts://", "ssl://")


class CompartmentLayout(BaseModel):
    label: str
    zone: str
    size: str


class Provisioned(BaseModel):
    """A bank's provisioning sheet; `password` is shown this once and never stored in clear."""

    bank_id: int
    bank_code: str
    client_id: str
    username: str
    password: str
    broker_url: str
    tls: bool
    ca_path: str | None
    ca_pem: str | None
    topic_prefix: str
    topics: dict[str, str]
    compartments: list[CompartmentLayout]
    rotated: bool
    password_file: str | None


def broker_url() -> str:
    """The broker as lockers reach it."""
    return get_locker_settings().public_broker_url or get_settings().mqtt_url


def trusted_ca(*, tls: bool) -> Path | None:
    """The CA certificate lockers must trust: the operator's own, else the project CA (made
    on first use); None when the broker URL has no TLS."""
    if not tls:
        return None
    settings = get_locker_settings()
    if settings.ca_cert:
        path = Path(settings.ca_cert)
        if not path.exists():
            raise FileNotFoundError(f"LOCKERS_CA_CERT {path} does not exist")
        return path
    return pki.ensure_project_ca(Path(settings.ca_dir))


def layout(*, db_session: Session, bank_id: int) -> list[CompartmentLayout]:
    """The bank's compartments as the locker must report them ([L-5.3], [S-11.2])."""
    rows = neighborhood_queries.compartments_of_banks(db_session=db_session, bank_ids=[bank_id])
    return [
        CompartmentLayout(label=row.label, zone=str(row.zone.value), size=str(row.size.value))
        for row in rows[bank_id]
    ]


def provision(
    *,
    db_session: Session,
    bank: LockerBankView,
    rotate: bool = False,
    password_file: Path | None = None,
) -> Provisioned:
    """Issue the bank's credentials (409 if it has some and `rotate` is False) and update the
    broker's password file; the sheet to hand to the installer."""
    password = credentials.issue_password(db_session=db_session, bank=bank, rotate=rotate)
    row = db_session.get(credentials.LockerCredential, bank.id)
    assert row is not None  # just issued
    configured = get_locker_settings().password_file
    target = password_file or (Path(configured) if configured else None)
    if target is not None:
        credentials.replace_login(target, bank.code, row.password_hash)
    url = broker_url()
    tls = url.startswith(TLS_SCHEMES)
    ca = trusted_ca(tls=tls)
    prefix = get_locker_settings().topic_prefix
    topics: dict[str, Any] = {
        channel: f"{prefix}/{bank.code}/{channel}"
        for channel in ("state", "events", "acks", "commands")
    }
    return Provisioned(
        bank_id=bank.id,
        bank_code=bank.code,
        client_id=bank.code,
        username=bank.code,
        password=password,
        broker_url=url,
        tls=tls,
        ca_path=str(ca) if ca else None,
        ca_pem=ca.read_text() if ca else None,
        topic_prefix=prefix,
        topics=topics,
        compartments=layout(db_session=db_session, bank_id=bank.id),
        rotated=rotate and row.rotations > 0,
        password_file=str(target) if target else None,
    )
