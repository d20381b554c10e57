"""``station user ...`` through the installed ``station`` command, passwords on stdin."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from console.cli.main import main
from console.password import verify_password
from storage.database import Database
from storage.login_session import create_login_session
from storage.model import ApiToken, AuditEntry, LoginSession, User, utcnow
from tests.support.station_process import run_station

PASSWORD = "Sup3r-Secret-Pw"

pytestmark = pytest.mark.timeout(120)


def station(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_station(*args, "--config", str(config), stdin=stdin)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(f"station: {{name: Test}}\nstorage: {{data_dir: {tmp_path / 'data'}}}\ncameras: []\n")
    return path


def open_db(config: Path) -> Database:
    return Database(f"sqlite:///{config.parent / 'data' / 'station.db'}")


def test_add_list_passwd_disable_enable(config: Path) -> None:
    added = station(
        config,
        "user",
        "add",
        "Ivanov",
        "--role",
        "admin",
        "--display-name",
        "Иванов И.",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert "user 'ivanov' created with role admin" in added.stdout
    assert PASSWORD not in added.stdout + added.stderr

    listed = station(config, "user", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["username"] == "ivanov" and row["role"] == "admin" and row["status"] == "active"
    assert row["display_name"] == "Иванов И."
    assert "ivanov" in station(config, "user", "list").stdout

    database = open_db(config)
    try:
        with database.session() as session:
            user = session.scalars(select(User)).one()
            assert (
                user.password_hash.startswith("$argon2id$")
                and verify_password(user.password_hash, PASSWORD).ok
            )
            create_login_session(
                session, user_id=user.id, token_hash="a" * 64, expires_at=utcnow().replace(year=2100)
            )

        changed = station(config, "user", "passwd", "ivanov", stdin="An0ther-Secret-Pw\n")
        assert changed.returncode == 0, changed.stderr
        assert "1 open session(s) ended" in changed.stdout
        assert station(config, "user", "disable", "ivanov").returncode == 0
        assert json.loads(station(config, "user", "list", "--json").stdout)[0]["status"] == "disabled"
        assert "already disabled" in station(config, "user", "disable", "ivanov").stdout
        assert station(config, "user", "enable", "ivanov").returncode == 0

        with database.session() as session:
            user = session.scalars(select(User)).one()
            assert verify_password(user.password_hash, "An0ther-Secret-Pw").ok and not user.disabled
            assert session.scalars(select(LoginSession)).one().revoked_at is not None
            audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
            assert [e.action for e in audit] == [
                "user.create",
                "user.password",
                "user.disable",
                "user.enable",
            ]
            assert {e.source for e in audit} == {"cli"} and all(e.allowed for e in audit)
            assert all(PASSWORD not in (e.detail or "") for e in audit)
    finally:
        database.dispose()


def in_process(
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: str = "",
) -> tuple[int, str]:
    """Run ``station`` in this process (fast) with ``stdin``; returns (exit code, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main([*args, "--config", str(config)])
    return code, capsys.readouterr().err


def test_refusals_are_clear(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(*args: str, stdin: str = "") -> tuple[int, str]:
        return in_process(config, capsys, monkeypatch, *args, stdin=stdin)

    cases = [
        (("user", "add", "petrov", "--role", "officer"), "short\n", "too short"),
        (("user", "add", "petrov", "--role", "officer"), "", "no password given"),
        (("user", "add", "petrov", "--role", "chief"), PASSWORD + "\n", "unknown role 'chief'"),
        (("user", "add", "bad name!", "--role", "officer"), PASSWORD + "\n", "invalid user name"),
        (("user", "passwd", "nobody"), PASSWORD + "\n", "no user 'nobody'"),
        (("user", "disable", "nobody"), "", "no user 'nobody'"),
        (("user", "token", "nobody", "--name", "x"), "", "no user 'nobody'"),
    ]
    for args, stdin, message in cases:
        code, err = run(*args, stdin=stdin)
        assert code == 1 and message in err, (args, err)
    assert run("user", "add", "petrov", "--role", "officer", stdin=PASSWORD + "\n")[0] == 0
    code, err = run("user", "add", "PETROV", "--role", "officer", stdin=PASSWORD + "\n")
    assert code == 1 and "already exists" in err


def test_password_is_never_an_argument(config: Path) -> None:
    result = station(config, "user", "add", "x1", "--role", "officer", "--password", PASSWORD)
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


def test_token_is_printed_once_and_only_its_hash_stored(config: Path) -> None:
    assert (
        station(config, "user", "add", "script", "--role", "investigator", stdin=PASSWORD + "\n").returncode
        == 0
    )
    result = station(config, "user", "token", "script", "--name", "nightly export", "--expires-days", "30")
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    assert secret.startswith("stn_") and "shown once" in result.stderr
    database = open_db(config)
    try:
        with database.session() as session:
            token = session.scalars(select(ApiToken)).one()
            assert token.name == "nightly export" and token.prefix == secret[:12]
            assert secret not in token.token_hash and token.expires_at is not None
            actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
            assert actions[-1] == "token.create"
    finally:
        database.dispose()


def test_bad_config_exits_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("station: {name: X}\n")
    result = station(bad, "user", "list")
    assert result.returncode == 78 and "storage" in result.stderr


def test_token_list_revoke_and_revoke_all(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main([*args, "--config", str(config)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    assert run("user", "add", "ivanov", "--role", "officer", stdin=PASSWORD + "\n")[0] == 0
    for name in ("nightly export", "prometheus"):
        assert run("user", "token", "ivanov", "--name", name)[0] == 0
    database = open_db(config)
    try:
        with database.session() as session:
            first, second = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
            first_id, second_id = first.id, second.id
        code, out, _err = run("user", "token", "ivanov", "--list")
        assert code == 0 and "nightly export" in out and "prometheus" in out and "active" in out
        code, out, _err = run("user", "token", "ivanov", "--revoke", str(first_id))
        assert code == 0 and f"API token {first_id}" in out and "revoked" in out
        code, _out, err = run("user", "token", "ivanov", "--revoke", "999")
        assert code == 1 and "no API token 999" in err
        listed = json.loads(run("user", "token", "ivanov", "--list", "--json")[1])
        assert [(t["id"], t["status"]) for t in listed] == [(first_id, "revoked"), (second_id, "active")]
        code, out, _err = run("user", "token", "ivanov", "--revoke-all")
        assert code == 0 and "1 API token(s) revoked" in out
        code, _out, err = run("user", "token", "nobody", "--list")
        assert code == 1 and "no user 'nobody'" in err
        with database.session() as session:
            assert all(t.revoked_at is not None for t in session.scalars(select(ApiToken)))
            actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
            assert actions[-2:] == ["token.revoke", "token.revoke_all"]
    finally:
        database.dispose()


def test_passwd_and_disable_revoke_tokens_for_good(config: Path) -> None:
    assert (
        station(config, "user", "add", "ivanov", "--role", "officer", stdin=PASSWORD + "\n").returncode == 0
    )
    assert station(config, "user", "token", "ivanov", "--name", "a").returncode == 0
    changed = station(config, "user", "passwd", "ivanov", stdin="An0ther-Secret-Pw\n")
    assert changed.returncode == 0 and "1 API token(s) revoked" in changed.stdout
    assert station(config, "user", "token", "ivanov", "--name", "b").returncode == 0
    disabled = station(config, "user", "disable", "ivanov")
    assert disabled.returncode == 0 and "1 API token(s) revoked" in disabled.stdout
    assert station(config, "user", "enable", "ivanov").returncode == 0
    database = open_db(config)
    try:
        with database.session() as session:
            reasons = [t.revoked_reason for t in session.scalars(select(ApiToken).order_by(ApiToken.id))]
            assert reasons == ["password_reset", "user_disabled"]
    finally:
        database.dispose()
