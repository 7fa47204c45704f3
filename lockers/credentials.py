"""Per-locker MQTT credentials: username = bank code, password derived from the server secret.

Nothing to store: the server (and the provisioning tool) can always re-derive a locker's
password; rotating SECRET_KEY rotates them all (re-provision the lockers and the password
file). The broker keeps only Mosquitto's salted hashes (`mosquitto_passwd -U`).
"""

import base64
import hashlib
import hmac
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from app.core.settings import get_settings


def locker_password(bank_code: str) -> str:
    """The MQTT password of a bank's controller."""
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, f"locker-mqtt:{bank_code}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


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
