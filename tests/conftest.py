"""Project-wide pytest configuration. Fixtures live in tests/support/ and each test folder's conftest.

At the end of the session every PostgreSQL server that the session started must be gone
(:mod:`tests.support.postgres`): one still running is killed here, and the run fails.
"""

from __future__ import annotations

import sys

import pytest

from tests.support.postgres import SESSION_SERVERS


@pytest.hookimpl(trylast=True)  # after pytest's own pytest_sessionfinish has torn down the session fixtures
def pytest_sessionfinish(session: pytest.Session) -> None:
    leaked = SESSION_SERVERS.stop_survivors()
    if not leaked:
        return
    names = ", ".join(f"postmaster {server.postmaster.pid} ({server.root})" for server in leaked)
    message = f"PostgreSQL server(s) outlived the test session and were killed: {names}"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(message, red=True)
    else:
        print(message, file=sys.stderr)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
