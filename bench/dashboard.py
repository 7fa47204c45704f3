"""Server time of every dashboard page on the 600-neighborhood city at noon (target < 300 ms).

    .venv/bin/python bench/dashboard.py [--repeat 20] [--write docs/benchmarks-pages.md]

The city is `bench/midday_city.py`'s (built once, then cached in `.bench-cache/`): 600
neighborhoods, 130,000 residents, the morning window's cut-off done and half its vans on the
road, the evening window taking orders. `/healthz` (the floor) and the JSON API's
`GET /windows/{id}/routes` are timed in the same run for comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import midday_city  # noqa: E402
import page_timing  # noqa: E402
from page_timing import COMPARISON, Page  # noqa: E402

TARGET_MS = 300.0


def dashboard_pages(city: midday_city.Midday, ids: dict[str, int]) -> list[Page]:
    """Every operator page, with real ids from the city."""
    morning, evening = city.morning_window_id, city.evening_window_id
    return [
        Page("floor: /healthz", "/healthz", "anon", COMPARISON),
        Page("API: routes of the window (JSON)", f"/windows/{morning}/routes", "api", COMPARISON),
        Page("Day board", "/ops", "operator", TARGET_MS),
        Page("Alarms", "/ops/alarms", "operator", TARGET_MS),
        Page("Routes map", f"/ops/routes?window_id={morning}", "operator", TARGET_MS),
        Page("Lockers", "/ops/lockers", "operator", TARGET_MS),
        Page("Locker bank", f"/ops/lockers/{ids['bank']}", "operator", TARGET_MS),
        Page(
            "Parcels: window's orders", f"/ops/parcels?window_id={evening}", "operator", TARGET_MS
        ),
        Page("Parcel chain", f"/ops/parcels/{ids['parcel']}", "operator", TARGET_MS),
        Page("Messages", "/ops/messages", "operator", TARGET_MS),
        Page("Depot lists", f"/ops/depot?window_id={morning}", "operator", TARGET_MS),
        Page("Pick list CSV", f"/ops/depot/{morning}/pick-list.csv", "operator", TARGET_MS),
    ]


if __name__ == "__main__":
    page_timing.run_cli(
        __doc__.splitlines()[0], "Dashboard pages, 600 neighborhoods", dashboard_pages
    )
