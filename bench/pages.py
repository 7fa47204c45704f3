"""Server time of the residents' and drivers' pages on the 600-neighborhood city at noon
(target < 200 ms each).

    .venv/bin/python bench/pages.py [--repeat 20] [--write FILE]

The city is `bench/midday_city.py`'s (see `bench/dashboard.py`). The resident has an order on
the van in the morning window and shops the evening window; the driver is half-way into a
route. `/healthz` and the JSON API's `GET /driver/routes/today` are timed beside them.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import midday_city  # noqa: E402
import page_timing  # noqa: E402
from page_timing import COMPARISON, Page  # noqa: E402

TARGET_MS = 200.0


def phone_pages(city: midday_city.Midday, ids: dict[str, int]) -> list[Page]:
    """Every resident and driver page, with real ids from the city."""
    route, stop = ids["route"], ids["stop"]
    return [
        Page("floor: /healthz", "/healthz", "anon", COMPARISON),
        Page("API: driver's routes today (JSON)", "/driver/routes/today", "driver-api", COMPARISON),
        Page("Resident: sign-in", "/login", "anon", TARGET_MS),
        Page("Resident: neighborhood lookup", "/signup/neighborhoods?q=Garden", "anon", TARGET_MS),
        Page("Resident: windows", "/", "resident", TARGET_MS),
        Page("Resident: shop (evening)", f"/w/{city.evening_window_id}", "resident", TARGET_MS),
        Page("Resident: my orders", "/my-orders", "resident", TARGET_MS),
        Page("Resident: order timeline", f"/my-orders/{ids['order']}", "resident", TARGET_MS),
        Page("Resident: account", "/account", "resident", TARGET_MS),
        Page("Driver: today", "/driver", "driver", TARGET_MS),
        Page("Driver: route", f"/driver/route/{route}", "driver", TARGET_MS),
        Page("Driver: stop", f"/driver/route/{route}/stop/{stop}", "driver", TARGET_MS),
        Page("Driver: route state (sync)", f"/driver/route/{route}/state", "driver", TARGET_MS),
    ]


if __name__ == "__main__":
    page_timing.run_cli(__doc__.splitlines()[0], "Phone pages, 600 neighborhoods", phone_pages)
