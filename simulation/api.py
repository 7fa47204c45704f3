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


class Handset:
    """An HTTP client as one person's device: its own address, its own token."""

    def __init__(self, base_url: str, *, address: str, timeout: float = 60.0) -> None:
        # The API trusts X-Forwarded-For from the local proxy only; each simulated handset
        # comes through it with its own public address, as phones on a mobile network would.
        self.client = httpx.Client(
            base_url=base_url, timeout=timeout, headers={"X-Forwarded-For": address}
        )
        self.token: str | None = None
        self.relogin: Callable[[Handset], None] | None = None

    def close(self) -> None:
        self.client.close()

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
        all_headers = dict(headers or {})
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
