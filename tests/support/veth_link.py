"""A camera network the test can break: a network namespace joined to the host by one veth pair.

``VethLink`` creates ``ip netns add NAME`` and a veth pair with one end in the root namespace
(``host_address``, e.g. 10.232.7.2/30) and the other in the namespace (``camera_address``, 10.232.7.1/30),
loopback up. A server started with :meth:`prefix` (``ip netns exec NAME ...``) listening on
``camera_address`` is reachable from the test process only over that link, which the test can:

- :meth:`down` / :meth:`up`: take the host end down and up (``ip link set ... down``), a pulled cable;
- :meth:`shape`: a token bucket (``tc qdisc replace ... tbf``) on the camera end, i.e. on what the camera
  sends; :meth:`unshape` removes it.

This kernel has no ``netem`` qdisc (no delay or random loss in the kernel) and the machine has no packet
filter (iptables/nft), so random packet drop is not available; delay, stalls and resets come from
:mod:`tests.support.fault_proxy`. :meth:`delete` removes the namespace and both ends; :func:`open_link` skips
the test with the reason where namespaces cannot be made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

IP = shutil.which("ip") or "/usr/sbin/ip"
TC = shutil.which("tc") or "/usr/sbin/tc"


class VethLinkError(RuntimeError):
    """An ``ip`` or ``tc`` command failed."""


def _run(*command: str) -> None:
    done = subprocess.run(list(command), capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise VethLinkError(f"{' '.join(command)}: {done.stderr.strip()}")


def missing_reason() -> str | None:
    for tool in (IP, TC):
        if not Path(tool).exists():
            return f"{tool} not found (iproute2 is needed to build the camera link)"
    if os.geteuid() != 0:
        return "creating a network namespace and a veth pair needs root (ip netns add)"
    return None


def link_subnet(pid: int) -> str:
    """A /30 for this process (10.232.X.Y, Y a multiple of 4): parallel test runs get different links."""
    return f"10.232.{pid % 256}.{4 * ((pid // 256) % 64)}"


class VethLink:
    def __init__(self, name: str, subnet: str) -> None:
        if len(name) > 12:
            raise ValueError("link name must be at most 12 characters (veth names derive from it)")
        base = subnet.rsplit(".", 1)
        last = int(base[1])
        self.name = name
        self.camera_address = f"{base[0]}.{last + 1}"
        self.host_address = f"{base[0]}.{last + 2}"
        self.host_end = f"{name}h"
        self.camera_end = f"{name}c"
        self.created = False

    def create(self) -> None:
        _run(IP, "netns", "add", self.name)
        self.created = True
        try:
            _run(IP, "link", "add", self.host_end, "type", "veth", "peer", "name", self.camera_end)
            _run(IP, "link", "set", self.camera_end, "netns", self.name)
            _run(IP, "addr", "add", f"{self.host_address}/30", "dev", self.host_end)
            _run(IP, "link", "set", self.host_end, "up")
            _run(IP, "-n", self.name, "addr", "add", f"{self.camera_address}/30", "dev", self.camera_end)
            _run(IP, "-n", self.name, "link", "set", self.camera_end, "up")
            _run(IP, "-n", self.name, "link", "set", "lo", "up")
        except VethLinkError:
            self.delete()
            raise

    def delete(self) -> None:
        """Remove the namespace (which removes the veth pair); idempotent."""
        if not self.created:
            return
        subprocess.run([IP, "netns", "del", self.name], capture_output=True, timeout=30, check=False)
        subprocess.run([IP, "link", "del", self.host_end], capture_output=True, timeout=30, check=False)
        self.created = False

    def prefix(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return [IP, "netns", "exec", self.name]

    def down(self) -> None:
        _run(IP, "link", "set", self.host_end, "down")

    def up(self) -> None:
        _run(IP, "link", "set", self.host_end, "up")

    def shape(self, rate_kbit: int, *, burst_bytes: int = 16 << 10, latency_ms: int = 200) -> None:
        """Limit what the camera sends to ``rate_kbit``; packets queued longer than ``latency_ms`` drop."""
        _run(
            TC, "-n", self.name, "qdisc", "replace", "dev", self.camera_end, "root", "tbf",
            "rate", f"{rate_kbit}kbit", "burst", str(burst_bytes), "latency", f"{latency_ms}ms",
        )  # fmt: skip

    def unshape(self) -> None:
        _run(TC, "-n", self.name, "qdisc", "del", "dev", self.camera_end, "root")

    def qdisc_stats(self) -> str:
        """``tc -s qdisc show`` of the camera end (sent, dropped, overlimits)."""
        done = subprocess.run(
            [TC, "-n", self.name, "-s", "qdisc", "show", "dev", self.camera_end],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout.strip()

    def __enter__(self) -> VethLink:
        self.create()
        return self

    def __exit__(self, *_: object) -> None:
        self.delete()


def open_link(name: str) -> VethLink:
    """A created link, or a skip with the reason it cannot be made here."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    link = VethLink(name, link_subnet(os.getpid()))
    try:
        link.create()
    except VethLinkError as exc:
        pytest.skip(f"cannot create a network namespace with a veth pair here: {exc}")
    return link
