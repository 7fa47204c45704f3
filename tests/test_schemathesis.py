"""Schemathesis in CI: every operation of the OpenAPI as anonymous, resident, driver and
operator, a few seeded examples each (valid and invalid data), against the app in-process on
the test database. No request may get a 5xx, no response may break its declared schema.

The longer run is `bench/fuzz.py`."""

import os

from tests.conftest import token_for
from tests.fuzzing import fuzz, known_ids

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "2"))


def test_no_5xx_and_no_schema_violation_for_any_role(app, make, world) -> None:  # type: ignore[no-untyped-def]
    tokens = {
        "anonymous": None,
        "resident": token_for(world.resident),
        "driver": token_for(make.driver()),
        "operator": token_for(make.operator()),
    }
    report = fuzz(app, tokens, examples=EXAMPLES, known_ids=known_ids(make, world))
    print(report.summary())
    assert report.operations >= 100
    assert report.requests >= report.operations * len(tokens) * 2
    details = "\n\n".join(
        f"{f.role} {f.operation} -> {f.status}\n{f.message}\n{f.reproduce}"
        for f in report.findings[:20]
    )
    assert not report.findings, f"{report.summary()}\n\n{details}"
