"""Malformed input anywhere in the API gets a 4xx, never a 500 (server errors raise here)."""

import re
from typing import Any

import pytest

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
