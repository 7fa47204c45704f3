"""Who the client is behind a reverse proxy: forwarded headers believed only from our proxies.

`X-Forwarded-For` and `Forwarded` (RFC 7239) are anyone's to write. They are read only when the
immediate peer is in `TRUSTED_PROXIES` (addresses or CIDRs, comma-separated; default none), and
then from the right: each trusted proxy appended the address it saw, so the first address from
the right that is not one of our proxies is the client. Anything to its left is the client's own
claim and ignored. From any other peer the headers are ignored and the peer is the client. The
scheme (`X-Forwarded-Proto`, `proto=`) is taken from trusted proxies too.

uvicorn's own `--proxy-headers` (which trusts 127.0.0.1 by default) is switched off where we
start uvicorn, so this middleware is the one place that decides.
"""

import ipaddress
from collections.abc import Iterable
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, 192.0.2.7` as networks; ValueError naming a bad entry."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {part!r} is not an address or CIDR") from exc
    return tuple(networks)


def _address(text: str) -> IPAddress | None:
    """An address from a forwarded entry: `203.0.113.9`, `203.0.113.9:4711`, `[2001:db8::1]:80`,
    `"[2001:db8::1]"`; None for `unknown`, obfuscated names and garbage."""
    value = text.strip().strip('"')
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        value = value.split(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_pairs(header: str) -> list[dict[str, str]]:
    """The elements of a `Forwarded` header as lower-cased key -> value maps."""
    elements = []
    for element in header.split(","):
        pairs: dict[str, str] = {}
        for pair in element.split(";"):
            key, _, value = pair.partition("=")
            if key.strip():
                pairs[key.strip().lower()] = value.strip()
        elements.append(pairs)
    return elements


def _hops(headers: dict[str, str]) -> tuple[list[str], str | None]:
    """The forwarded-for chain (left to right) and the last proto, from Forwarded if present,
    else X-Forwarded-For / X-Forwarded-Proto."""
    if "forwarded" in headers:
        elements = _forwarded_pairs(headers["forwarded"])
        protos = [e["proto"].strip('"') for e in elements if "proto" in e]
        return [e.get("for", "") for e in elements], (protos[-1] if protos else None)
    chain = [p for p in headers.get("x-forwarded-for", "").split(",") if p.strip()]
    proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip() or None
    return chain, proto


class TrustedProxyHeaders:
    """ASGI middleware: the client address (and scheme) as our trusted proxies forwarded it."""

    def __init__(self, app: Any, trusted: str | Iterable[IPNetwork]) -> None:
        self.app = app
        self.networks = parse_networks(trusted) if isinstance(trusted, str) else tuple(trusted)

    def _trusted(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def client_for(
        self, peer: str | None, headers: dict[str, str]
    ) -> tuple[str | None, str | None]:
        """The client address and scheme to believe for a request from `peer`."""
        if peer is None or not self._trusted(_address(peer)):
            return peer, None
        chain, proto = _hops(headers)
        client = peer
        for entry in reversed(chain):
            address = _address(entry)
            if address is None:
                break  # garbage from our own proxy: keep the last address we can vouch for
            client = str(address)
            if not self._trusted(address):
                break
        if proto not in ("http", "https", "ws", "wss"):
            proto = None
        return client, proto

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and self.networks:
            peer = scope.get("client")
            headers: dict[str, str] = {}
            for raw_name, raw_value in scope.get("headers", []):
                name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
                headers[name] = f"{headers[name]},{value}" if name in headers else value
            client, proto = self.client_for(peer[0] if peer else None, headers)
            if peer and client != peer[0]:
                scope = {**scope, "client": (client, 0)}
            if proto is not None:
                if scope["type"] == "websocket":
                    proto = "wss" if proto in ("https", "wss") else "ws"
                scope = {**scope, "scheme": proto}
        await self.app(scope, receive, send)
