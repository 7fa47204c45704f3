"""Schemathesis over the app's OpenAPI, in-process: every operation as every role, a bounded,
seeded number of generated requests each, checked for server errors and for responses that do
not match their declared schema. Used by tests/test_schemathesis.py (CI) and bench/fuzz.py
(a longer run)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance]
SESSION_ENDING = {"/auth/logout"}


@dataclass
class Finding:
    """One request that failed a check: what was sent, as whom, and what came back."""

    role: str
    operation: str
    status: int
    message: str
    reproduce: str


@dataclass
class FuzzReport:
    requests: int = 0
    operations: int = 0
    seconds: float = 0.0
    unsatisfiable: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    slowest: Counter[str] = field(default_factory=Counter)
    by_role: Counter[tuple[str, int]] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def summary(self) -> str:
        classes = Counter(f"{status // 100}xx" for status in self.statuses.elements())
        return (
            f"{self.operations} operations, {self.requests} requests in {self.seconds:.1f} s; "
            f"{dict(sorted(classes.items()))}; {self.server_errors} 5xx, "
            f"{len(self.findings)} findings"
        )


def fuzz(
    app: Any,
    tokens: dict[str, str | None],
    *,
    examples: int,
    known_ids: dict[str, int] | None = None,
    seed: int = 15,
) -> FuzzReport:
    """Run `examples` generated requests per operation, role and generation mode (valid and
    invalid data) against the ASGI `app`; `tokens` maps a role's name to its bearer token (None:
    anonymous). Operations whose path ids are all in `known_ids` (rows that exist) get as many
    valid requests again on those rows, so that answers get past 404 and their schemas are
    checked."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = FuzzReport()
    started = time.perf_counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    # Signing out revokes the token the rest of the run relies on: it goes last.
    operations.sort(key=lambda operation: operation.path in SESSION_ENDING)
    for operation in operations:
        report.operations += 1
        names = [p.name for p in operation.path_parameters]
        on_rows = {name: known_ids[name] for name in names if name in (known_ids or {})}
        for role, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            begun = time.perf_counter()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(generation_mode=mode)
                _run(strategy, role, headers, examples, seed, report)
            if names and len(on_rows) == len(names):
                strategy = operation.as_strategy(path_parameters=on_rows)
                _run(strategy, role, headers, examples, seed, report)
            report.slowest[operation.label] += round(time.perf_counter() - begun, 3)
    report.seconds = time.perf_counter() - started
    return report


def _run(
    strategy: Any,
    role: str,
    headers: dict[str, str],
    examples: int,
    seed: int,
    report: FuzzReport,
) -> None:
    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: each finding as first seen
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def probe(case: Any) -> None:
        # Our role's credentials, not whatever the security scheme generated (none: anonymous).
        case.headers = {
            name: value
            for name, value in (case.headers or {}).items()
            if name.lower() != "authorization"
        } | headers
        response = case.call()
        report.requests += 1
        report.statuses[response.status_code] += 1
        report.by_role[(role, response.status_code)] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as failure:  # a check failed: record, go on
            report.findings.append(
                Finding(
                    role=role,
                    operation=case.operation.label,
                    status=response.status_code,
                    message=str(failure)[:1500],
                    reproduce=case.as_curl_command(headers=headers),
                )
            )

    try:
        probe()
    except Unsatisfiable:  # nothing invalid to send (an operation without inputs)
        report.unsatisfiable += 1


def known_ids(make: Any, world: Any) -> dict[str, int]:
    """Rows of the world's city to aim the path ids at: a depot, a window slot, a locker bank
    with a compartment, an order of the world's resident and the rows the world already has."""
    bank = make.locker_bank(world.hood)
    compartment = make.compartment(bank)
    order = make.order(world.resident, [(world.gb, 2)])
    resident = world.resident
    return {
        "city_id": world.city.id,
        "depot_id": make.depot(world.city).id,
        "slot_id": make.window_slot(world.city, name="evening").id,
        "neighborhood_id": world.hood.id,
        "window_id": world.window.id,
        "product_id": world.product.id,
        "group_buy_id": world.gb.id,
        "resident_id": resident.id,
        "bank_id": bank.id,
        "compartment_id": compartment.id,
        "order_id": order.id,
    }
