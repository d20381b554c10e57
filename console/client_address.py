"""The client's address of a request, honouring ``X-Forwarded-For`` only from configured trusted proxies.

A reverse proxy in front of the console (``console.trusted_proxies``) makes every request come from the
proxy's address; the browser's own address is then the right-most ``X-Forwarded-For`` entry that is not
itself a trusted proxy. Entries left of it were written by the client and can be forged, so they are never
read. A request from any other peer keeps its peer address and its header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from fastapi import Request

from console.station import Station

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = value.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    """True when ``address`` is an IP address inside one of the ``trusted`` networks (pure)."""
    parsed = _parse(address)
    return parsed is not None and any(parsed.version == net.version and parsed in net for net in trusted)


def forwarded_client(peer: str, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The client's address: the peer itself unless it is a trusted proxy, else the right-most
    ``X-Forwarded-For`` entry that is not a trusted proxy (pure). A malformed entry ends the walk: the
    address that forwarded it is answered, as nothing left of it can be believed."""
    if not trusted or not forwarded_for or not is_trusted(peer, trusted):
        return peer
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        parsed = _parse(entry)
        if parsed is None:
            return client
        client = str(parsed)
        if not is_trusted(client, trusted):
            return client
    return client


def client_address(request: Request) -> str:
    """The client's address of ``request``; behind a configured trusted proxy, the one it forwarded
    (:func:`forwarded_client`)."""
    peer = request.client.host if request.client else "unknown"
    station = getattr(request.app.state, "station", None)
    if not isinstance(station, Station):
        return peer
    trusted = station.settings.config.console.trusted_proxies
    return forwarded_client(peer, request.headers.get("x-forwarded-for"), trusted)
