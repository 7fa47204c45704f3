"""The project's one retry back-off: the base delay doubled per earlier try, capped.

Used by the SMS delivery (with jitter, so retries of one batch spread out) and the locker
command outbox (without: a bank expects a resend on a fixed rhythm).
"""

import random
from collections.abc import Callable

# 2**64 times any sane base is past any sane cap; a bounded exponent never overflows a float.
_MAX_DOUBLINGS = 64


def backoff_seconds(
    attempts: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.0,
    uniform: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after `attempts` tries: `base` for the first, doubling each time, at most
    `cap`; `jitter` adds up to that fraction more (0.25: up to a quarter), drawn from `uniform`."""
    doublings = min(max(0, attempts - 1), _MAX_DOUBLINGS)
    delay = min(cap, base * 2.0**doublings)
    if jitter:
        delay *= 1 + jitter * uniform()
    return float(delay)
