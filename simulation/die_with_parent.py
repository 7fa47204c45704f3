"""Runs a command that ends when the process that started it ends, even one killed outright.

    python -m simulation.die_with_parent PARENT_PID COMMAND [ARG...]

A played day on the production stack starts a Celery worker and beat; killed with SIGKILL
(a timeout, an operator's kill -9) it could not stop them, and they went on consuming the
shared broker's queues. On Linux the command gets SIGTERM when its parent dies (Celery's warm
shutdown); elsewhere it is simply run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    parent, command = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was asked for
            return 1
    os.execvp(command[0], command)
    return 1  # not reached: execvp replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
