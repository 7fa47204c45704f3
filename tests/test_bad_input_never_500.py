"""Malformed input anywhere in the API gets a 4xx, never a 500 (server errors raise here)."""

import json
import re
from typing import Any

import pytest

from app.core.limits import LOCAL_TIME_PATTERN
from app.main import create_app

_SPEC = create_app().openapi()
_HUGE = 2**63


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in _SPEC["paths"].items()
        for method, op in item.items()
        if op.get("security")
    ]


def _body_fields(op: dict[str, Any]) -> list[str]:
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = schema.get("schema", {}).get("$ref", "")
    if not ref:
        return []
    return list(_SPEC["components"]["schemas"][ref.split("/")[-1]].get("properties", {}))


BAD_VALUES = ["💥" * 3, -1, _HUGE, None, [], {"nested": True}, 1.5, "", "2026-13-45T25:61:00"]


@pytest.mark.parametrize(("method", "path", "op"), _operations(), ids=lambda v: str(v)[:60])
@pytest.mark.parametrize("who", ["operator", "resident", "driver"])
def test_garbage_gets_a_4xx(request, client_for, method: str, path: str, op, who: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for(request.getfixturevalue(who))
    for path_value in ("1", str(_HUGE), "abc"):
        url = re.sub(r"\{[^}]+\}", path_value, path)
        fields = _body_fields(op)
        bodies: list[Any] = [{}, [], "not json"] + [
            {field: value for field in fields} for value in BAD_VALUES
        ]
        for body in bodies:
            kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
            response = client.request(method, url, **kwargs)
            assert response.status_code < 500, (method, url, body, response.text)
            if response.status_code == 422:
                assert response.json()["detail"], "a 422 must say which field and why"


# --- each defect of issue 15 ("no 5xx from input"), one test each ------------------------------

NUL, SURROGATE = "a\u0000b", "a\ud800b"


def _post_raw(client, url: str, body: str, method: str = "POST"):  # type: ignore[no-untyped-def]
    """JSON text as a client could send it (a lone surrogate as its \\ud800 escape)."""
    raw = body.encode("utf-8", "surrogatepass")
    return client.request(method, url, content=raw, headers={"content-type": "application/json"})


def _json_text(value: str) -> str:
    return json.dumps(value)  # ensure_ascii: NUL and a lone surrogate as \u escapes


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize(
    ("url", "template", "field"),
    [
        ("/auth/resident/code", '{"phone": %s}', "phone"),
        ("/auth/resident/token", '{"phone": "+8613812345678", "code": %s}', "code"),
        ("/auth/staff/token", '{"username": %s, "password": "x"}', "username"),
    ],
)
def test_nul_and_lone_surrogates_in_json_are_a_422_naming_the_field(
    anon_client, url: str, template: str, field: str, bad: str
) -> None:  # type: ignore[no-untyped-def]
    response = _post_raw(anon_client, url, template % _json_text(bad))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_a_resident_name_with_nul_or_surrogate_is_refused(resident_client, bad: str) -> None:  # type: ignore[no-untyped-def]
    response = _post_raw(resident_client, "/me", f'{{"name": {_json_text(bad)}}}', "PATCH")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


def test_nul_in_a_form_field_is_a_422_naming_it(anon_client) -> None:  # type: ignore[no-untyped-def]
    response = anon_client.post("/auth/staff/token", data={"username": NUL, "password": "x"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "username"]


def test_nul_in_the_query_string_is_a_422_naming_it(operator_client) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.get("/cities", params={"q": NUL})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "q"]


def test_a_422_echoing_a_lone_surrogate_is_encodable(operator_client) -> None:  # type: ignore[no-untyped-def]
    """Validation that fails for another reason still echoes the input; it must encode."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from pydantic import BaseModel

    from app.core.request_guard import install_validation_handler

    class Body(BaseModel):
        n: int

    probe = FastAPI()
    install_validation_handler(probe)

    @probe.post("/probe")
    def _probe(body: Body) -> dict[str, int]:
        return {"n": body.n}

    with TestClient(probe) as client:
        response = _post_raw(client, "/probe", '{"n": "\\ud800"}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "n"]


@pytest.mark.parametrize(
    "url",
    [
        "/cities?offset={huge}",
        "/locker-banks?neighborhood_id={huge}",
        "/driver/routes/today?driver_id={huge}",
        "/lockers/retrievals?bank_id={huge}",
        "/notifications/messages?resident_id={huge}",
        "/windows?offset={huge}",
    ],
)
def test_unbounded_query_integers_are_a_422(operator_client, url: str) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.get(url.format(huge=_HUGE))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_locker_capacity_window_id_overflow_is_a_422(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    hood = make.neighborhood()
    response = operator_client.get(
        f"/neighborhoods/{hood.id}/locker-capacity", params={"window_id": _HUGE}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "window_id"]


def test_a_signed_token_whose_subject_overflows_is_a_401(anon_client) -> None:  # type: ignore[no-untyped-def]
    from app.core.security import Principal, create_access_token

    for role in ("resident", "operator", "driver"):
        token = create_access_token(Principal(subject_id=2**70, role=role))  # type: ignore[arg-type]
        response = anon_client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (role, response.text)
        assert response.json()["detail"][0]["loc"] == ["header", "authorization"]


def test_a_far_future_pickup_deadline_is_refused(operator_client, world) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.patch(
        f"/windows/{world.window.id}", json={"pickup_deadline": "9999-12-31T23:59:59+14:00"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "pickup_deadline"]


def test_a_chunked_body_over_the_limit_is_a_413(anon_client) -> None:  # type: ignore[no-untyped-def]
    from app.core.settings import get_settings

    limit = get_settings().max_request_bytes
    chunk = b"x" * 8192

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(limit // len(chunk) + 2):
            yield chunk

    for content_type in ("application/json", "application/octet-stream"):
        response = anon_client.post(
            "/auth/resident/code", content=chunks(), headers={"content-type": content_type}
        )
        assert response.status_code == 413, (content_type, response.text)
        assert response.json()["detail"][0]["type"] == "too_large"


def test_deep_json_and_invalid_utf8_are_a_400_saying_why(anon_client) -> None:  # type: ignore[no-untyped-def]
    deep = "[" * 5000 + "]" * 5000
    response = _post_raw(anon_client, "/auth/resident/code", deep)
    assert response.status_code == 400, response.text
    assert response.json()["detail"][0]["type"] == "too_deep"
    response = anon_client.post(
        "/auth/resident/code",
        content=b'{"phone": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"][0]["type"] == "invalid_utf8"


def test_errors_name_path_and_header_not_body(operator_client, anon_client) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.get(f"/windows/{2**31 - 2}")
    assert response.status_code == 404, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "window_id"]
    response = anon_client.get("/me", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.json()["detail"][0]["loc"] == ["header", "authorization"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("currency", "XXQ"), ("country_code", "ZZ"), ("name", "Shang\u001bhai")],
)
def test_city_codes_are_iso_and_names_have_no_control_characters(
    operator_client, field: str, value: str
) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "Testville", "timezone": "Asia/Shanghai", "currency": "CNY"}
    body["country_code"] = "CN"
    body[field] = value
    response = operator_client.post("/cities", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_times_of_day_are_declared_as_what_they_are() -> None:
    """No field is `format: time` (an offset the values never carry): a local "HH:MM"."""
    text = json.dumps(_SPEC)
    assert '"format": "time"' not in text
    slot = _SPEC["components"]["schemas"]["WindowSlotRead"]["properties"]["ready_by_local"]
    assert slot["pattern"] == LOCAL_TIME_PATTERN


def test_window_slot_times_come_back_as_hh_mm(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    make.window_slot(city)
    response = operator_client.get(f"/cities/{city.id}")
    assert response.status_code == 200, response.text
    assert response.json()["window_slots"]
    for slot in response.json()["window_slots"]:
        assert re.fullmatch(LOCAL_TIME_PATTERN, slot["ready_by_local"]), slot


def _unbounded(schema: dict[str, Any], where: str, seen: frozenset[str]) -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        if name in seen:
            return []
        return _unbounded(_SPEC["components"]["schemas"][name], f"{where}>{name}", seen | {name})
    found = []
    if schema.get("type") == "integer" and not {"maximum", "exclusiveMaximum"} & set(schema):
        found.append(where)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found += _unbounded(sub, where, seen)
    for name, sub in schema.get("properties", {}).items():
        found += _unbounded(sub, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        found += _unbounded(schema["items"], f"{where}[]", seen)
    return found


def test_every_integer_the_api_reads_is_bounded() -> None:
    """Walks the OpenAPI: every integer parameter and request-body field has a maximum."""
    found: list[str] = []
    for path, item in _SPEC["paths"].items():
        for method, op in item.items():
            for parameter in op.get("parameters", []):
                where = f"{method} {path} {parameter['in']}:{parameter['name']}"
                found += _unbounded(parameter.get("schema", {}), where, frozenset())
            for content in op.get("requestBody", {}).get("content", {}).values():
                found += _unbounded(content.get("schema", {}), f"{method} {path}", frozenset())
    assert not found, "\n".join(found)


def test_a_failing_statement_does_not_carry_its_parameters(engine) -> None:  # type: ignore[no-untyped-def]
    """A 500's traceback shows the SQL, never the values bound to it (phones, names, codes)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    phone = "+8613899990000"
    with engine.connect() as connection, pytest.raises(DBAPIError) as failure:
        connection.execute(
            text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": phone}
        )
    assert "no_such_table" in str(failure.value)
    assert phone not in str(failure.value)


@pytest.mark.parametrize("name", ["Li\u001bWei", "Li\nWei", "Li\u0007Wei"])
def test_control_characters_in_people_names_are_refused(
    resident_client, operator_client, name: str
) -> None:  # type: ignore[no-untyped-def]
    response = resident_client.patch("/me", json={"name": name})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
    staff = {"username": "newdriver", "password": "a long passphrase here", "role": "driver"}
    response = operator_client.post("/staff", json={**staff, "full_name": name})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "full_name"]
