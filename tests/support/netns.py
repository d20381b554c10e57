"""A throwaway network namespace for WebRTC tests: ICE never sees the host's real interfaces.

``NetNamespace`` creates ``ip netns add NAME``, a veth pair with both ends inside it (10.231.0.1/24 and
10.231.0.2/24 by default) and loopback up; :meth:`NetNamespace.wrap` writes an executable wrapper that runs a
program inside the namespace (``exec ip netns exec NAME PROGRAM "$@"``), for tools that take an executable
path (Playwright's Chromium, the RTSP test server's interpreter). :meth:`delete` removes everything.

The ``netns`` fixture skips the test with the reason when namespaces cannot be made (not root, no iproute2).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

IP = shutil.which("ip") or "/usr/sbin/ip"


class NetnsError(RuntimeError):
    """A namespace command failed."""


def _ip(*args: str) -> None:
    done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def missing_reason() -> str | None:
    if not Path(IP).exists():
        return "iproute2 'ip' not found (needed to isolate WebRTC in a network namespace)"
    if os.geteuid() != 0:
        return "creating a network namespace needs root (ip netns add)"
    return None


class NetNamespace:
    def __init__(self, name: str, *, subnet: str = "10.231.0") -> None:
        if len(name) > 10:
            raise ValueError("namespace name must be at most 10 characters (veth names derive from it)")
        self.name = name
        self.address = f"{subnet}.1"  # where servers listen
        self.peer_address = f"{subnet}.2"
        self._veth = (f"{name}a", f"{name}b")
        self.created = False

    def create(self) -> None:
        _ip("netns", "add", self.name)
        self.created = True
        try:
            _ip("link", "add", self._veth[0], "type", "veth", "peer", "name", self._veth[1])
            for end, address in zip(self._veth, (self.address, self.peer_address), strict=True):
                _ip("link", "set", end, "netns", self.name)
                _ip("-n", self.name, "addr", "add", f"{address}/24", "dev", end)
                _ip("-n", self.name, "link", "set", end, "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except NetnsError:
            self.delete()
            raise

    def delete(self) -> None:
        if self.created:
            subprocess.run([IP, "netns", "del", self.name], capture_output=True, timeout=30, check=False)
            self.created = False

    def prefix(self) -> list[str]:
        return [IP, "netns", "exec", self.name]

    def wrap(self, program: str, path: Path) -> Path:
        """An executable script running ``program`` inside the namespace with the same arguments."""
        path.write_text(f'#!/bin/sh\nexec {IP} netns exec {self.name} {program} "$@"\n')
        path.chmod(0o755)
        return path

    def __enter__(self) -> NetNamespace:
        self.create()
        return self

    def __exit__(self, *_: object) -> None:
        self.delete()


@pytest.fixture
def netns() -> Iterator[NetNamespace]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    namespace = NetNamespace(f"st{os.getpid() % 100000}")
    try:
        namespace.create()
    except NetnsError as exc:
        pytest.skip(f"cannot create a network namespace here: {exc}")
    try:
        yield namespace
    finally:
        namespace.delete()
