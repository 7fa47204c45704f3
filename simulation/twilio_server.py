"""A local server that speaks Twilio's Messages API: the residents' phone network of the played
day, and the Twilio that tests and benchmarks send to through the real `twilio` SDK.

It speaks the wire format the official SDK uses: `POST /2010-04-01/Accounts/{AccountSid}/
Messages.json` (form-encoded, HTTP Basic auth) answered `201` with Twilio's JSON; error bodies
with Twilio's codes (`21211` invalid To, `21610` unsubscribed recipient, `20429` too many
requests, `20003` bad credentials); `GET .../Messages/{Sid}.json` and `GET .../Messages.json?To=`
(newest first, paged) for reconciliation. Every request is recorded (`FakeTwilio.requests`), so
a test can check the exact request Twilio would have received. A Starlette app, served by
uvicorn in a background thread.

Run one: `pickup sim twilio`, then `TWILIO_BASE_URL=http://127.0.0.1:8765`.
"""

import base64
import json
import re
import socket
import threading
import time
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from simulation.twilio_api import API, FakeTwilio, RecordedRequest, error_body

__all__ = ["FakeTwilio", "FakeTwilioServer", "RecordedRequest", "twilio_app"]


def _basic_auth(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _header_name(name: str) -> str:
    """`content-type` as a client wrote it: `Content-Type` (ASGI lowercases header names)."""
    return "-".join(part.capitalize() for part in name.split("-"))


def _route(
    fake: FakeTwilio,
    method: str,
    path: str,
    query: dict[str, str],
    form: dict[str, str],
    auth: tuple[str, str] | None,
) -> tuple[int, dict[str, Any]]:
    prefix = f"{API}{fake.account_sid}/"
    if not path.startswith(API):
        return error_body(404, 20404, "The requested resource was not found")
    if auth != (fake.account_sid, fake.auth_token) or not path.startswith(prefix):
        return error_body(401, 20003, "Authenticate")
    rest = path[len(prefix) :]
    if method == "POST" and rest == "Messages.json":
        return fake.create(form)
    if method == "GET" and rest == "Messages.json":
        return fake.list(query)
    match = re.fullmatch(r"Messages/(SM[0-9a-f]{32})\.json", rest)
    if method == "GET" and match:
        return fake.fetch(match.group(1))
    return error_body(404, 20404, "The requested resource was not found")


def _answer(
    fake: FakeTwilio, request: RecordedRequest, form: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """Route and record one complete request."""
    if fake.latency_s:
        time.sleep(fake.latency_s)
    status, payload = _route(
        fake, request.method, request.path, request.query, form, request.basic_auth
    )
    fake.record(replace(request, form=form, status=status, at=time.time()))
    return status, payload


def twilio_app(fake: FakeTwilio) -> Starlette:
    """The HTTP face of `fake`: every path and method goes through `_route`."""

    async def endpoint(request: Request) -> Response:
        headers = {_header_name(k): v for k, v in request.headers.items()}
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers=headers,
            form={},
            basic_auth=_basic_auth(request.headers.get("authorization", "")),
            status=0,
            at=time.time(),
        )
        try:
            data = await request.body()
        except ClientDisconnect:  # the sender died mid-request: Twilio would see no request
            fake.record(replace(recorded, aborted=True))
            return Response(status_code=400)
        form = {k: v[-1] for k, v in parse_qs(data.decode(), keep_blank_values=True).items()}
        if fake.may_block:  # in a worker thread: a held create blocks only itself
            status, payload = await run_in_threadpool(_answer, fake, recorded, form)
        else:
            status, payload = _answer(fake, recorded, form)
        return Response(
            json.dumps(payload), status_code=status, media_type="application/json; charset=utf-8"
        )

    route = Route("/{path:path}", endpoint, methods=["GET", "POST"])
    return Starlette(routes=[route])


class FakeTwilioServer:
    """`twilio_app(fake)` served by uvicorn on a socket bound at construction."""

    def __init__(self, fake: FakeTwilio, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self._socket.listen(1024)
        config = uvicorn.Config(
            twilio_app(fake),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            # uvicorn's 5 s default closes idle keep-alive connections so often that a send
            # reusing one races the close ("connection reset") several times a played day.
            timeout_keep_alive=75,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "FakeTwilioServer":
        """Serve in a background thread; return once it answers."""
        self._thread = threading.Thread(
            target=self._server.run, args=([self._socket],), daemon=True, name="twilio-server"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the Twilio server did not start within 10 s")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C)."""
        self._server.run([self._socket])

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.fake.release.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
