"""Pure-ASGI guards in front of every route, API and pages alike.

- `BodySizeLimit`: a body over the limit is a 413, whether announced by Content-Length or
  streamed in chunks (even where the route would have turned the failed read into a 400).
- `InputGuard`: a JSON body that is not UTF-8 or is nested absurdly deep is a 400 saying so; a
  NUL character or a lone surrogate in any string of a JSON body, a form, the query string or the
  path is a 422 naming where it was, before any handler, database or log sees it.
- `install_validation_handler`: FastAPI's 422s rendered so that whatever they echo can be encoded.
"""

import contextlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.limits import unsafe_character

MAX_JSON_DEPTH = 32
"""No request body of ours nests more than a few levels; 32 leaves room and stops stack games."""

_Loc = list[str | int]


GUARD_CASES: dict[str, tuple[int, str]] = {
    "too_large": (413, "The request body is larger than the server accepts."),
    "invalid_utf8": (400, "The JSON body is not UTF-8."),
    "too_deep": (400, f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels."),
    "json_invalid": (400, "The JSON body cannot be read (a malformed one is FastAPI's 422)."),
    "unsafe_text": (422, "A string holds a NUL character or a lone surrogate."),
}
"""The guards' refusals by code: their status and what they mean (for the OpenAPI)."""


def error_body(loc: _Loc, msg: str, kind: str) -> dict[str, Any]:
    """The API's error shape: which value (where it came from first), why, and a code (the
    guards' `type` and `code` are the same: each kind is one case)."""
    return {"detail": [{"loc": loc, "msg": msg, "type": kind, "code": kind}]}


def encode(body: Any) -> bytes:
    """JSON that can always be encoded: non-ASCII escaped, so a lone surrogate echoed back as
    the offending input cannot fail the response."""
    return json.dumps(body, ensure_ascii=True, allow_nan=False, default=str).encode("ascii")


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodySizeLimit:
    """Refuse oversized bodies with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the route made of the failed read (FastAPI answers 400) is replaced.
            nonlocal started
            if too_large:
                return
            started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if too_large and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await _answer(
            send,
            413,
            error_body(["body"], f"request body larger than {self.max_bytes} bytes", "too_large"),
        )


class _TooLarge(Exception):
    pass


def _unsafe_strings(value: Any, loc: _Loc, depth: int = 0) -> Iterator[tuple[_Loc, str]]:
    """Every (location, reason) of a string in a parsed JSON value that cannot be stored."""
    if isinstance(value, str):
        reason = unsafe_character(value)
        if reason:
            yield loc, reason
    elif isinstance(value, dict):
        for key, item in value.items():
            reason = unsafe_character(key)
            if reason:
                yield [*loc, key.encode("utf-8", "backslashreplace").decode()], f"key {reason}"
            yield from _unsafe_strings(item, [*loc, key], depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unsafe_strings(item, [*loc, index], depth + 1)


def _depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (iteratively: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def _check_json(raw: bytes) -> tuple[int, dict[str, Any]] | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return 400, error_body(
            ["body"], f"body is not valid UTF-8 (byte {exc.start})", "invalid_utf8"
        )
    try:
        data = json.loads(text)
    except RecursionError:
        return 400, error_body(
            ["body"], f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "too_deep"
        )
    except json.JSONDecodeError:
        return None  # FastAPI answers malformed JSON with its own 422 (json_invalid)
    except ValueError as exc:  # e.g. an integer literal of thousands of digits
        return 400, error_body(["body"], f"JSON not readable: {exc}", "json_invalid")
    if _depth(data) > MAX_JSON_DEPTH:
        return 400, error_body(
            ["body"], f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "too_deep"
        )
    for loc, reason in _unsafe_strings(data, ["body"]):
        return 422, error_body(loc, reason, "unsafe_text")
    return None


def _check_pairs(pairs: list[tuple[str, str]], where: str) -> tuple[int, dict[str, Any]] | None:
    for name, value in pairs:
        reason = unsafe_character(name) or unsafe_character(value)
        if reason:
            return 422, error_body([where, name.replace("\x00", "\\x00")], reason, "unsafe_text")
    return None


def _form_pairs(raw: bytes) -> list[tuple[str, str]]:
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True)


class InputGuard:
    """Refuse text no handler should see: see the module's docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", ""):
            await _answer(
                send, 422, error_body(["path"], "contains a NUL character", "unsafe_text")
            )
            return
        query = (scope.get("query_string") or b"").decode("latin-1")
        refusal = _check_pairs(parse_qsl(query, keep_blank_values=True), "query")
        if refusal:
            await _answer(send, *refusal)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/x-www-form-urlencoded" and not (
            content_type == b"application/json" or content_type.endswith(b"+json")
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        if content_type == b"application/x-www-form-urlencoded":
            refusal = _check_pairs(_form_pairs(raw), "body")
        else:
            refusal = _check_json(raw) if raw else None
        if refusal:
            await _answer(send, *refusal)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": raw}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def install_validation_handler(app: FastAPI) -> None:
    """FastAPI's 422 for request validation, rendered ASCII-safe (a lone surrogate echoed as the
    offending input would otherwise fail to encode and turn the 422 into a 500). Each item's
    `code` is pydantic's error type (`missing`, `string_too_long`, ...), as its `type` is."""

    async def handle(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        items = jsonable_encoder(exc.errors())
        body = {"detail": [{**item, "code": item.get("code", item["type"])} for item in items]}
        return Response(encode(body), status_code=422, media_type="application/json")

    app.add_exception_handler(RequestValidationError, handle)
