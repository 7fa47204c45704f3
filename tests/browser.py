"""Browser-test support: Debian's headless Chromium through Playwright, and a served demo city.

- `chromium` (session): the browser; skipped with a reason when /usr/bin/chromium is absent,
  unless PICKUP_REQUIRE_BROWSER=1 (set by `.ci/run`, which installs it), then it fails; and
  skipped on the real-services stage, since the demo it drives is always embedded.
- `DemoServer`: `pickup demo` as a child process on free ports in its own folder, playing a
  day at a chosen speed (or not), for tests that watch the system live.
- `shoot(page, name)`: a screenshot; into `docs/screenshots/` when PICKUP_SCREENSHOTS=1 (how
  the committed ones are refreshed), else into the test's temporary folder.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).parents[1]
SCREENSHOTS = REPO / "docs" / "screenshots"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
LAPTOP = {"viewport": {"width": 1366, "height": 900}}
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium from Debian, driven by Playwright."""
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        # The demo these tests drive always runs on the embedded defaults: once is enough.
        pytest.skip("browser tests run in the embedded stage (their demo is embedded)")
    if not Path(CHROMIUM).exists():
        if os.environ.get("PICKUP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk")
        pytest.skip(f"browser tests need {CHROMIUM} (apt-get install -y chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


def shoot(page: Any, name: str, tmp_path: Path, *, full_page: bool = False) -> Path:
    """Save a screenshot of `page` as `name`.png (committed folder when refreshing)."""
    folder = SCREENSHOTS if os.environ.get("PICKUP_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in_operator(page: Any, base_url: str, target: str) -> None:
    """Sign the demo operator in through the staff sign-in form and land on `target`."""
    page.goto(f"{base_url}/staff/login?next={target}")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "demo-operator")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}{target}*")


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DemoServer:
    """`pickup demo` on its own ports and folder; `url`, `stop()`, the log for failures."""

    def __init__(
        self,
        workdir: Path,
        *,
        speed: float = 200.0,
        orders: int = 200,
        play: bool = True,
        seed: int = 7,
        extra_env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.mqtt_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "demo-stdout.log"
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "MQTT_URL", "CELERY_BROKER_URL")
        }
        env.update({"COLUMNS": "120", **(extra_env or {})})
        command = [
            sys.executable,
            "-m",
            "app.cli",
            "demo",
            "--port",
            str(self.port),
            "--mqtt-port",
            str(self.mqtt_port),
            "--speed",
            str(speed),
            "--orders",
            str(orders),
            "--seed",
            str(seed),
            "--play" if play else "--no-play",
            *extra_args,
        ]
        workdir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Ctrl-C must reach the demo even when this run was started in the background
            # (a shell then starts its children with SIGINT ignored, and they inherit it).
            preexec_fn=_interruptible,
        )
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"demo exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"demo not ready in {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        """The end of the demo's output, for a failing test's message."""
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the demo (Ctrl-C first, as a person would)."""
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
