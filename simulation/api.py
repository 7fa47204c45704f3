"""A user's HTTP session with the system: one phone or one driver's handset."""

import uuid
from collections.abc import Callable
from typing import Any

import httpx


class ApiError(Exception):
    """An answer the simulated user did not expect (anything but 2xx and the 4xx it handles)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
        self.status = response.status_code
        self.body: Any = _json_or_text(response)


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


_pools: dict[str, httpx.Client] = {}


def _pool(base_url: str) -> httpx.Client:
    """One keep-alive pool per server for every simulated device (a client each costs ~10 ms)."""
    if base_url not in _pools:
        _pools[base_url] = httpx.Client(
            base_url=base_url, timeout=60.0, limits=httpx.Limits(max_keepalive_connections=8)
        )
    return _pools[base_url]


def close_pools() -> None:
    """Close every pool (at the end of a day)."""
    while _pools:
        _pools.popitem()[1].close()


class Handset:
    """An HTTP client as one person's device: its own address, its own token."""

    def __init__(self, base_url: str, *, address: str) -> None:
        self.client = _pool(base_url)
        # The API trusts X-Forwarded-For from the local proxy only; each simulated handset
        # comes through it with its own public address, as phones on a mobile network would.
        self.address = address
        self.token: str | None = None
        self.relogin: Callable[[Handset], None] | None = None

    def close(self) -> None:
        """Nothing of its own to close: handsets share one connection pool per server."""

    def call(
        self,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...] = (200, 201),
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, body); raises ApiError for a status outside `expect`."""
        all_headers = {"X-Forwarded-For": self.address, **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        response = self.client.request(method, path, json=json, params=params, headers=all_headers)
        if response.status_code == 401 and self.token and self.relogin is not None:
            self.token = None  # the session ran out (tokens last hours; the day is longer)
            self.relogin(self)
            all_headers["Authorization"] = f"Bearer {self.token}"
            response = self.client.request(
                method, path, json=json, params=params, headers=all_headers
            )
        if response.status_code not in expect:
            raise ApiError(response)
        return response.status_code, _json_or_text(response)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)[1]

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)[1]


def idempotency_key() -> str:
    """A fresh key, as a page makes one per tap of "place order"."""
    return uuid.uuid4().hex
