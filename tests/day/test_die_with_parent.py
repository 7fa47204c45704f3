"""A played day's Celery processes end with the day's process, even when it is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")

PARENT = """
import os, subprocess, sys, time
guard = [sys.executable, "-m", "simulation.die_with_parent", str(os.getpid())]
command = [sys.executable, "-c", "import time; time.sleep(60)"]
child = subprocess.Popen((guard if sys.argv[1] == "guarded" else []) + command)
print(child.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def child_after_parent_killed(mode: str) -> tuple[int, bool]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(0.5)  # the guard has exec'd the command
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    return child, alive(child)


def test_the_guarded_command_ends_when_its_parent_is_killed() -> None:
    child, still_running = child_after_parent_killed("guarded")
    assert not still_running, f"pid {child} outlived its SIGKILLed parent"


def test_without_the_guard_the_command_outlives_its_parent() -> None:
    child, still_running = child_after_parent_killed("bare")
    try:
        assert still_running  # what the guard is for: the orphan goes on running
    finally:
        if still_running:
            os.kill(child, signal.SIGKILL)
