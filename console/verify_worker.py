"""Checking an uploaded evidence package in a worker process, under a time limit, a few at a time.

:class:`VerifyWorker` runs :func:`storage.evidence.verifier.verify_package` in a child process
(``python -m console.verify_worker``) that reads the upload where it was spooled: the parent hands over its
file descriptor, never a copy. The child is killed when its time runs out (:meth:`VerifyWorker.time_limit_s`:
a base plus the file's size at a slow hashing rate; the verifier reads each byte at most once, so an honest
package is done well before), limits its own CPU time and address space on start, and answers with the
report as JSON on stdout. At most :attr:`VerifyWorker.max_concurrent` checks run at once; a request that
finds no free slot within :attr:`VerifyWorker.queue_wait_s` is refused (:class:`VerifyBusyError`).
``station verify`` checks in the same worker (:mod:`console.cli.verify_cmd`; ``--time-limit`` sets
:attr:`VerifyWorker.fixed_time_limit_s`), so a hostile package cannot hang the CLI either.

Errors (each a built-in's subclass too)::

    VerifyWorkerError (RuntimeError)
    ├── VerifyBusyError                 every slot is taken
    ├── VerifyTimeoutError (TimeoutError) the check ran out of time and was stopped
    └── VerifyCrashError                 the child ended without a report
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from storage.evidence.error import PackageUnreadableError
from storage.evidence.finding import Finding
from storage.evidence.report import VerificationReport
from storage.evidence.verifier import verify_package
from storage.signing import load_public_key_pem, public_key_pem

logger = logging.getLogger(__name__)

MIB: Final = 1 << 20
MAX_CONCURRENT: Final = 2  # a station has 2 cores; each check takes one
BASE_TIME_LIMIT_S: Final = 15.0  # interpreter start-up, the signature, a manifest of up to 16 MiB
SLOWEST_BYTES_PER_S: Final = 32 * MIB  # SHA-256 of stored members runs at ~1 GB/s; a cold disk at ~100 MB/s
QUEUE_WAIT_S: Final = 5.0
MEMORY_LIMIT_BYTES: Final = 2 << 30  # the child's address space: a 16 MiB manifest parses into ~300 MB
_STDERR_TAIL_CHARS: Final = 2000


class VerifyWorkerError(RuntimeError):
    """The package could not be checked (see the subclasses); ``package``: the name of the package checked
    (untrusted text: escape it before showing it), empty when no check had started."""

    def __init__(self, message: str, *, package: str = "") -> None:
        super().__init__(message)
        self.package = package


class VerifyBusyError(VerifyWorkerError):
    """As many checks as allowed are running already; try again shortly."""

    def __init__(self, max_concurrent: int) -> None:
        super().__init__(f"{max_concurrent} package check(s) running already")
        self.max_concurrent = max_concurrent


class VerifyTimeoutError(VerifyWorkerError, TimeoutError):
    """The check took longer than its time limit and was stopped."""

    def __init__(self, limit_s: float, *, package: str) -> None:
        super().__init__(f"the check took longer than {limit_s:.0f} s and was stopped", package=package)
        self.limit_s = limit_s


class VerifyCrashError(VerifyWorkerError):
    """The worker process ended without a report."""


@dataclass
class VerifyWorker:
    """Runs package checks in child processes: at most ``max_concurrent`` at once, each under its time
    limit (``base_time_limit_s`` plus the file's size at ``slowest_bytes_per_s``, or ``fixed_time_limit_s``
    when given: ``station verify --time-limit``)."""

    max_concurrent: int = MAX_CONCURRENT
    base_time_limit_s: float = BASE_TIME_LIMIT_S
    slowest_bytes_per_s: int = SLOWEST_BYTES_PER_S
    queue_wait_s: float = QUEUE_WAIT_S
    fixed_time_limit_s: float | None = None
    _slots: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_concurrent)

    def time_limit_s(self, size_bytes: int) -> float:
        if self.fixed_time_limit_s is not None:
            return self.fixed_time_limit_s
        return self.base_time_limit_s + size_bytes / self.slowest_bytes_per_s

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the slots (raises :class:`VerifyBusyError` when none frees within the wait)."""
        if not self._slots.acquire(timeout=self.queue_wait_s):
            raise VerifyBusyError(self.max_concurrent)
        try:
            yield
        finally:
            self._slots.release()

    def verify(
        self, name: Path, source: BinaryIO, *, trusted_keys: Sequence[Ed25519PublicKey]
    ) -> VerificationReport:
        """The report on the package in ``source`` (a real file: an in-memory spool is rolled over to one).

        Raises :class:`PackageUnreadableError` like the verifier, or a :class:`VerifyWorkerError`.
        """
        with self.slot():
            fd = source.fileno()  # a SpooledTemporaryFile still in memory writes itself out here
            limit_s = self.time_limit_s(os.fstat(fd).st_size)
            request = {
                "name": str(name),
                "trusted_keys": [public_key_pem(key).decode("ascii") for key in trusted_keys],
                "cpu_limit_s": int(limit_s) + 1,
            }
            return _answer(name, _run_child(fd, request, limit_s))


def _run_child(fd: int, request: dict[str, Any], limit_s: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [sys.executable, "-m", __name__, str(fd)],
            input=json.dumps(request).encode("utf-8"),
            capture_output=True,
            pass_fds=(fd,),
            timeout=limit_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed the child
        logger.warning("verifying %s: stopped after %.0f s", request["name"], limit_s)
        raise VerifyTimeoutError(limit_s, package=Path(request["name"]).name) from exc


def _answer(name: Path, done: subprocess.CompletedProcess[bytes]) -> VerificationReport:
    try:
        answer = json.loads(done.stdout) if done.returncode == 0 else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        stderr = done.stderr.decode("utf-8", "replace")[-_STDERR_TAIL_CHARS:]
        logger.warning("verifying %s: the worker ended with status %d: %s", name, done.returncode, stderr)
        raise VerifyCrashError(
            f"the check ended without a report (exit status {done.returncode})", package=name.name
        )
    if "unreadable" in answer:
        raise PackageUnreadableError(str(answer["unreadable"]), package=name.name)
    try:
        return report_from_wire(answer["report"])
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("verifying %s: the worker's report cannot be read: %s", name, exc)
        raise VerifyCrashError(
            "the check ended with a report that cannot be read", package=name.name
        ) from exc


def report_to_wire(report: VerificationReport) -> dict[str, Any]:
    return {**asdict(report), "path": str(report.path)}


def report_from_wire(data: dict[str, Any]) -> VerificationReport:
    findings = [Finding.from_dict(finding) for finding in data["findings"]]
    return VerificationReport(**{**data, "path": Path(data["path"]), "findings": findings})


# --- the child ------------------------------------------------------------------------------------------


def _limit_self(cpu_limit_s: int) -> None:
    """Lower this process's CPU time and address space limits (never above the limits it already has)."""
    for which, limit in ((resource.RLIMIT_CPU, cpu_limit_s), (resource.RLIMIT_AS, MEMORY_LIMIT_BYTES)):
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(which, (limit, limit if hard == resource.RLIM_INFINITY else hard))


def run_child(fd: int) -> int:
    """The worker's side: the request on stdin, the package at ``fd``, the answer as JSON on stdout."""
    request = json.loads(sys.stdin.buffer.read())
    _limit_self(int(request["cpu_limit_s"]))
    keys = [load_public_key_pem(pem.encode("ascii")) for pem in request["trusted_keys"]]
    with os.fdopen(fd, "rb", closefd=True) as source:
        try:
            report = verify_package(Path(request["name"]), trusted_keys=keys, source=source)
        except PackageUnreadableError as exc:
            answer: dict[str, Any] = {"unreadable": str(exc)}
        else:
            answer = {"report": report_to_wire(report)}
    sys.stdout.write(json.dumps(answer))  # ASCII: text from the package travels \u-escaped
    return 0


if __name__ == "__main__":
    sys.exit(run_child(int(sys.argv[1])))
