from __future__ import annotations

import ipaddress

import pytest

from console.client_address import forwarded_client, is_trusted

PROXIES = [ipaddress.ip_network("10.0.0.1/32"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("10.0.0.1", "203.0.113.5", "203.0.113.5"),  # the proxy's word for its client
        ("10.0.0.1", "198.51.100.7, 203.0.113.5", "203.0.113.5"),  # the left entry is the client's own claim
        ("10.0.0.1", "203.0.113.5, 10.0.0.1", "203.0.113.5"),  # chained trusted proxies are skipped
        ("10.0.0.1", "203.0.113.5:4711", "203.0.113.5"),
        ("fd00::2", "[2001:db8::1]:443", "2001:db8::1"),
        ("10.0.0.1", None, "10.0.0.1"),
        ("10.0.0.1", "not-an-address", "10.0.0.1"),  # garbage: the proxy itself is all that is known
        ("192.0.2.9", "203.0.113.5", "192.0.2.9"),  # an untrusted peer's header is never read
        ("testclient", "203.0.113.5", "testclient"),
    ],
)
def test_forwarded_for_is_read_only_from_trusted_proxies(
    peer: str, header: str | None, expected: str
) -> None:
    assert forwarded_client(peer, header, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert forwarded_client("10.0.0.1", "203.0.113.5", []) == "10.0.0.1"
    assert is_trusted("10.0.0.1", PROXIES) and not is_trusted("10.0.0.2", PROXIES)
