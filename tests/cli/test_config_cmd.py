"""``station check-config`` and ``station config schema``, through the installed ``station`` command."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from console.cli.main import main
from tests.support.paths import REPO_ROOT
from tests.support.station_process import run_station, station_command, station_environ

PASSWORD = "Sup3r-Secret-Pw"
HOSTILE_DIR = REPO_ROOT / "tests" / "config" / "hostile"
HOSTILE = {  # file -> (line, message) of the one problem it must be refused with
    "billion_laughs.yaml": (5, "aliases expand to more than 10000 nodes"),
    "anchor_fan_out.yaml": (2, "aliases expand to more than 10000 nodes"),
    "recursive_alias.yaml": (2, "alias *loop is used inside"),
    "deep_sequence.yaml": (1, "nested deeper than 64 levels"),
    "deep_flow_mapping.yaml": (1, "nested deeper than 64 levels"),
    "deep_block_mapping.yaml": (65, "nested deeper than 64 levels"),
    "not_utf8.yaml": (3, "not UTF-8 text"),
    "nul_byte.yaml": (2, "NUL"),
    "multi_document.yaml": (3, "expected a single document"),
}
MEMORY_LIMIT_BYTES = (
    2 * 1024**3
)  # the station needs about 1 GiB of address space to start; a bomb needs 190 GB


def _station(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_station(*args, env=env)


def _config(tmp_path: Path, cameras: str, top: str = "") -> Path:
    path = tmp_path / "station.yaml"
    path.write_text(
        f"station: {{name: Test}}\nstorage: {{data_dir: {tmp_path / 'data'}}}\n{top}cameras:\n{cameras}"
    )
    return path


@pytest.mark.timeout(60)
def test_examples_are_valid() -> None:
    examples = sorted(str(p) for p in (REPO_ROOT / "config" / "examples").glob("*.yaml"))
    result = _station("check-config", *examples)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": OK") == len(examples) >= 3


@pytest.mark.timeout(60)
def test_unknown_key_bad_url_and_duplicate_id_exit_78_naming_all_three(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        "  - id: gate-1\n"
        "    name: Gate\n"
        f"    url: rtsp://admin:{PASSWORD}@10.0.0.1/main\n"
        "    colour: red\n"
        "  - id: gate-1\n"
        "    name: Gate 2\n"
        f"    url: http://admin:{PASSWORD}@10.0.0.2/main\n",
    )
    result = _station("check-config", str(path))
    assert result.returncode == 78
    assert f"{path}: INVALID" in result.stderr
    assert "configuration is invalid (3 problems):" in result.stderr
    assert "station.yaml:7: cameras[0].colour: unknown key" in result.stderr
    assert "station.yaml:8: cameras[1].id: duplicate camera id 'gate-1'" in result.stderr
    assert "station.yaml:10: cameras[1].url: unsupported URL scheme 'http'" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_password_never_printed_in_summary_or_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = (
        "  - id: gate-1\n    name: Gate\n"
        f"    url: rtsp://admin:{PASSWORD}@10.0.0.1/main\n"
        f"    sub_url: rtsp://admin:{PASSWORD}@10.0.0.1/sub\n"
    )
    top = f"storage: {{data_dir: {tmp_path}/data, db_url: 'postgresql+psycopg://st:{PASSWORD}@db/st'}}\n"
    path = tmp_path / "station.yaml"
    path.write_text(f"station: {{name: Test}}\n{top}cameras:\n{camera}")
    assert main(["check-config", str(path)]) == 0
    ok = capsys.readouterr()
    assert "rtsp://admin:***@10.0.0.1/main" in ok.out
    assert "postgresql+psycopg://st:***@db/st" in ok.out
    assert PASSWORD not in ok.out + ok.err
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text(path.read_text() + f"  - id: x\n    url: rtsp://a:{PASSWORD}@h/x\n   bad: [\n")
    bad_key = tmp_path / "key.yaml"
    bad_key.write_text(path.read_text() + "    speed: 3\n")
    two_sources = tmp_path / "sources.yaml"
    two_sources.write_text(path.read_text() + "    password_env: GATE_PW\n")
    assert main(["check-config", str(bad_yaml), str(bad_key), str(two_sources)]) == 78
    bad = capsys.readouterr()
    assert "password_env GATE_PW is set too" in bad.err and "speed: unknown key" in bad.err
    monkeypatch.setenv("STATION_DB_URL", f"mysql://u:{PASSWORD}@h/x")
    assert main(["check-config", str(path)]) == 78
    env = capsys.readouterr()
    assert "environment: STATION_DB_URL: unsupported database URL" in env.err
    for output in (bad.out, bad.err, env.out, env.err):
        assert PASSWORD not in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("station: {name: T\n", "YAML syntax error"),
        ("station: {name: T, timezone: Mars/Olympus}\nstorage: {data_dir: /tmp/x}\n", "unknown time zone"),
    ],
)
def test_clear_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "station.yaml"
    if content is not None:
        path.write_text(content)
    assert main(["check-config", str(path)]) == 78
    assert message in capsys.readouterr().err


def test_unwritable_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "blocker").write_text("a file, not a directory")
    path = tmp_path / "station.yaml"
    path.write_text(f"station: {{name: T}}\nstorage: {{data_dir: {tmp_path}/blocker/data}}\n")
    assert main(["check-config", str(path)]) == 78
    assert "station.yaml:2: storage.data_dir: cannot create directory" in capsys.readouterr().err
    assert main(["check-config", "--no-io", str(path)]) == 0


def test_station_config_is_the_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, "  - {id: gate-1, name: Gate, url: 'rtsp://10.0.0.1/a'}\n")
    monkeypatch.setenv("STATION_CONFIG", str(path))
    assert main(["check-config"]) == 0
    assert f"{path}: OK" in capsys.readouterr().out


def test_environment_overrides_are_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, "  - {id: gate-1, name: Gate, url: 'rtsp://10.0.0.1/a'}\n")
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "other"))
    monkeypatch.setenv("STATION_DB_URL", "postgresql://station@127.0.0.1/station")
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"data dir: {tmp_path / 'other'} (from STATION_DATA_DIR)" in out
    assert "database: postgresql://station:***@127.0.0.1/station (from STATION_DB_URL)" in out
    assert (tmp_path / "other").is_dir()


def test_warnings_do_not_fail_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(
        tmp_path, "  - {id: gate-1, name: Gate, url: 'rtsp://10.0.0.1/a', password_env: NOPE_PW}\n"
    )
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "password=env NOPE_PW" in out
    assert "warning: station.yaml:4: cameras[0].password_env: environment variable NOPE_PW is not set" in out


def test_several_files_report_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _config(tmp_path, "  - {id: gate-1, name: Gate, url: 'rtsp://10.0.0.1/a'}\n")
    assert main(["check-config", str(good), str(tmp_path / "missing.yaml")]) == 78
    captured = capsys.readouterr()
    assert f"{good}: OK" in captured.out
    assert f"{tmp_path / 'missing.yaml'}: file not found" in captured.err


def test_schema_is_printed_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "StationConfig"
    assert schema["additionalProperties"] is False
    assert "cameras" in schema["properties"]
    assert schema["$defs"]["CameraConfig"]["properties"]["sub_url"]["description"]


def test_hostile_corpus_is_complete() -> None:
    assert sorted(p.name for p in HOSTILE_DIR.glob("*.yaml")) == sorted(HOSTILE)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_are_refused_quickly_with_exit_78(name: str) -> None:
    path = HOSTILE_DIR / name
    line, message = HOSTILE[name]
    started = time.monotonic()
    result = subprocess.run(
        # under an address-space limit: a bomb that gets expanded dies of MemoryError, not the machine
        ["prlimit", f"--as={MEMORY_LIMIT_BYTES}", "--", str(station_command()), "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=station_environ(),
        cwd=REPO_ROOT,
    )
    elapsed_s = time.monotonic() - started
    assert result.returncode == 78, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    report = result.stderr.splitlines()
    assert report[:2] == [f"{path}: INVALID", "configuration is invalid (1 problem):"], report[:5]
    assert len(report) == 3
    source = str(path) if name == "not_utf8.yaml" else name  # unreadable text is reported by its full path
    assert report[2].startswith(f"  {source}:{line}: ")
    assert message in report[2]
    assert elapsed_s < 20  # start-up (1.5 s idle) is nearly all of it: the loader refuses in milliseconds
