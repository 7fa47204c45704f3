"""The one back-off (`app.core.backoff`): doubling from the base, capped, optional jitter."""

from app.core.backoff import backoff_seconds


def test_the_delay_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [backoff_seconds(n, base=30, cap=600) for n in range(0, 8)]
    assert delays == [30.0, 30.0, 60.0, 120.0, 240.0, 480.0, 600.0, 600.0]


def test_jitter_adds_at_most_its_fraction() -> None:
    assert backoff_seconds(3, base=10, cap=100, jitter=0.25, uniform=lambda: 0.0) == 40.0
    assert backoff_seconds(3, base=10, cap=100, jitter=0.25, uniform=lambda: 0.5) == 45.0
    assert backoff_seconds(9, base=10, cap=100, jitter=0.25, uniform=lambda: 1.0) == 125.0


def test_a_huge_attempt_count_is_the_cap_not_an_overflow() -> None:
    assert backoff_seconds(100_000, base=5, cap=3600) == 3600.0
