"""Per-locker MQTT credentials: username = bank code, a password issued once at provisioning.

An issued password is random, shown once (to the installer) and stored only as Mosquitto's
`$7$` hash (PBKDF2-SHA512), so the broker's password file is written from the stored hashes
and the server can never show the password again: `rotate` replaces it and the old one stops
working at the broker's next reload ([S-11.1]). A bank never provisioned keeps the password
derived from the server secret (`locker_password`, what the simulator's `--credentials`
uses); issuing one replaces it.
"""

import base64
import hashlib
import hmac
import secrets
import shutil
import subprocess
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.db import Base, utcnow
from app.core.errors import Conflict
from app.core.settings import get_settings
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import LockerBankView

MOSQUITTO_ITERATIONS = 101  # mosquitto_passwd's own default for $7$
PASSWORD_BYTES = 24


class CredentialsExist(Conflict):
    """The bank already has credentials: issue new ones only by rotating."""

    case = "credentials_exist"


class LockerCredential(Base):
    """A bank's issued MQTT password, as a Mosquitto `$7$` hash only."""

    __tablename__ = "locker_credentials"

    bank_id: Mapped[int] = mapped_column(ForeignKey("locker_banks.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotations: Mapped[int] = mapped_column(default=0)


def locker_password(bank_code: str) -> str:
    """The derived MQTT password of a bank never provisioned (simulator, development)."""
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, f"locker-mqtt:{bank_code}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """The `$7$` hash Mosquitto 2 checks a password against (as `mosquitto_passwd` writes)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    encoded = (base64.b64encode(part).decode() for part in (salt, digest))
    return f"$7${MOSQUITTO_ITERATIONS}${next(encoded)}${next(encoded)}"


def mosquitto_hash_matches(password: str, stored: str) -> bool:
    """Whether a password matches a `$7$` hash (constant-time)."""
    parts = stored.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    salt, expected = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(digest, expected)


def issue_password(*, db_session: Session, bank: LockerBankView, rotate: bool) -> str:
    """A new random password for the bank, stored hashed; the password, to show once.

    Refused (409) when the bank already has one and `rotate` is not asked: the server cannot
    show it again."""
    row = db_session.get(LockerCredential, bank.id)
    if row is not None and not rotate:
        raise CredentialsExist(
            f"bank {bank.code} already has credentials; rotate to issue new ones",
            field="rotate",
        )
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    if row is None:
        db_session.add(LockerCredential(bank_id=bank.id, password_hash=mosquitto_hash(password)))
    else:
        row.password_hash = mosquitto_hash(password)
        row.issued_at = utcnow()
        row.rotations += 1
    db_session.flush()
    return password


def bank_logins(*, db_session: Session) -> list[tuple[str, str]]:
    """(bank code, `$7$` hash) of every bank: the issued hash, or the derived password's."""
    issued = dict(
        db_session.execute(select(LockerCredential.bank_id, LockerCredential.password_hash))
        .tuples()
        .all()
    )
    banks = neighborhood_queries.locker_banks(db_session=db_session)
    return [
        (bank.code, issued.get(bank.id) or mosquitto_hash(locker_password(bank.code)))
        for bank in banks
    ]


def write_hashed_password_file(path: Path, logins: Iterable[tuple[str, str]]) -> int:
    """Write a Mosquitto password file from (username, `$7$` hash) pairs; how many."""
    rows = list(logins)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{user}:{hashed}\n" for user, hashed in rows))
    path.chmod(0o600)
    return len(rows)


def replace_login(path: Path, user: str, hashed: str) -> None:
    """Add or replace one login in an existing Mosquitto password file (created if absent)."""
    lines = path.read_text().splitlines() if path.exists() else []
    logins = [tuple(line.split(":", 1)) for line in lines if ":" in line]
    kept = [(name, value) for name, value in logins if name != user]
    write_hashed_password_file(path, [*kept, (user, hashed)])


def write_password_file(path: Path, entries: Iterable[tuple[str, str]]) -> int:
    """Write a Mosquitto password file for (username, password) pairs, hashed with
    `mosquitto_passwd -U`; how many entries."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise RuntimeError("mosquitto_passwd not found (install the mosquitto package)")
    rows = list(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{user}:{password}\n" for user, password in rows))
    path.chmod(0o600)
    subprocess.run([tool, "-U", str(path)], check=True, capture_output=True)
    return len(rows)
