"""Named error cases: the body's `code` through real endpoints, the OpenAPI's list of cases, and
the check that refuses a bare family raise."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.core.errors import ERROR_CASES
from app.main import create_app
from tests.orders.ordering import place

ROOT = Path(__file__).resolve().parent.parent


def _only_item(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert len(detail) == 1, detail
    item: dict[str, Any] = detail[0]
    return item


def test_an_order_for_a_closed_window_says_window_closed(client_for, make, world) -> None:  # type: ignore[no-untyped-def]
    closed = make.window(cutoff_in=timedelta(minutes=-1))
    gb = make.group_buy(neighborhood=world.hood, window=closed)
    item = _only_item(place(client_for(world.resident), closed.id, [(gb.id, 1)]), 409)
    assert item["type"] == "conflict"
    assert item["code"] == "window_closed"
    assert item["loc"] == ["body", "window_id"]
    assert "cutoff_at" in item["ctx"]


def test_an_unknown_product_says_product_not_found(operator_client) -> None:  # type: ignore[no-untyped-def]
    item = _only_item(operator_client.get("/products/999999"), 404)
    assert (item["type"], item["code"]) == ("not_found", "product_not_found")


def test_request_validation_and_guards_carry_a_code(operator_client) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.post("/products", json={"name": "x"})
    assert response.status_code == 422, response.text
    for item in response.json()["detail"]:
        assert item["code"] == item["type"], item
    nul = _only_item(operator_client.get("/products", params={"q": "a\x00b"}), 422)
    assert (nul["type"], nul["code"]) == ("unsafe_text", "unsafe_text")


def test_the_staff_login_form_validation_carries_a_code(anon_client) -> None:  # type: ignore[no-untyped-def]
    """The staff login builds its own RequestValidationError (JSON or form body)."""
    item = _only_item(anon_client.post("/auth/staff/token", data={"username": "someone"}), 422)
    assert item["loc"] == ["body", "password"]
    assert (item["type"], item["code"]) == ("missing", "missing")


def test_the_openapi_lists_every_case_with_status_and_meaning() -> None:
    spec = create_app().openapi()
    cases = {case["code"]: case for case in spec["info"]["x-error-codes"]}
    assert cases["window_closed"]["status"] == [409]
    assert cases["window_closed"]["type"] == "conflict"
    assert "cut-off" in cases["window_closed"]["description"]
    assert cases["product_not_found"]["status"] == [404]
    assert set(ERROR_CASES) <= set(cases)
    item = spec["components"]["schemas"]["ErrorItem"]
    enum = item["properties"]["code"]["enum"]
    assert {"window_closed", "product_not_found", "missing", "unsafe_text"} <= set(enum)
    assert {"loc", "msg", "type", "code"} <= set(item["required"])
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert "4XX" in answers, f"{method} {path}"
            for status, answer in answers.items():
                if status.startswith("4"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{method} {path}"


def _check(root: Path, *only: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(ROOT / "scripts" / "error_cases.py"), str(root)]
    if only:
        args += ["--only", *only]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def test_the_check_flags_a_bare_family_raise(tmp_path: Path) -> None:
    package = tmp_path / "app" / "things"
    package.mkdir(parents=True)
    (package / "service.py").write_text(
        "from app.core import errors\n"
        "from app.core.errors import Conflict, NotFound as Missing\n\n\n"
        "class ThingTaken(Conflict):\n"
        '    case = "thing_taken"\n\n\n'
        "def take(taken: bool, known: bool) -> None:\n"
        "    if taken:\n"
        '        raise ThingTaken("taken", field="name")\n'
        "    if not known:\n"
        '        raise Missing("no such thing", field="thing_id")\n'
        '    raise errors.Conflict("bare", field="name")\n'
    )
    result = _check(tmp_path, "app")
    assert result.returncode == 1
    flagged = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in flagged] == [
        "app/things/service.py:13",
        "app/things/service.py:14",
    ], flagged
    assert "bare NotFound" in flagged[0] and "bare Conflict" in flagged[1]


def test_the_check_passes_the_app_package() -> None:
    result = _check(ROOT, "app")
    assert result.returncode == 0, result.stdout
