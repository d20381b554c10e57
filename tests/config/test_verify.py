"""Machine checks: data dir writable, secrets file, password variables, model file."""

from __future__ import annotations

from pathlib import Path

from config.loader import ConfigDocument, load_document
from config.verify import unavailable_cpus_message, verify_machine, verify_writable_dir


def _document(tmp_path: Path, storage: str, extra: str = "") -> tuple[Path, ConfigDocument]:
    path = tmp_path / "station.yaml"
    path.write_text(
        "station: {name: T}\n"
        f"storage: {storage}\n"
        "cameras:\n"
        "  - {id: gate-1, name: Gate, url: 'rtsp://10.0.0.1/a', password_env: GATE_PW}\n" + extra
    )
    return path, load_document(path)


def test_data_dir_is_created(tmp_path: Path) -> None:
    assert verify_writable_dir(tmp_path / "a" / "b", label="storage.data_dir") == []
    assert (tmp_path / "a" / "b").is_dir()


def test_data_dir_that_is_a_file_or_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    on_file = verify_writable_dir(blocker, label="storage.data_dir")
    under_file = verify_writable_dir(blocker / "sub", label="storage.data_dir")
    assert "exists and is not a directory" in on_file[0].message
    assert "cannot create directory" in under_file[0].message


def test_unwritable_data_dir_is_reported_with_its_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path, document = _document(tmp_path, f"{{data_dir: {blocker}/data}}")
    assert path.exists()
    result = verify_machine(document, config_path=path, environ={"GATE_PW": "x"})
    assert [str(p).split(": cannot")[0] for p in result.errors] == ["station.yaml:2: storage.data_dir"]


def test_overridden_data_dir_is_blamed_on_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path, document = _document(tmp_path, f"{{data_dir: {tmp_path}/data}}")
    env = {"GATE_PW": "x", "STATION_DATA_DIR": str(blocker / "data")}
    result = verify_machine(document, config_path=path, environ=env)
    assert [(p.file, p.path, p.line) for p in result.errors] == [("environment", "STATION_DATA_DIR", None)]


def test_warnings_for_unset_variable_open_secrets_and_missing_model(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("gate-1: pw\nghost-9: pw\n")
    secrets.chmod(0o644)
    extra = f"secrets_file: secrets.yaml\ndetection: {{model_path: {tmp_path}/none.onnx}}\n"
    path, document = _document(tmp_path, f"{{data_dir: {tmp_path}/data}}", extra)
    result = verify_machine(document, config_path=path, environ={})
    assert result.errors == []
    text = "\n".join(str(w) for w in result.warnings)
    assert "station.yaml:4: cameras[0].password_env: environment variable GATE_PW is not set" in text
    assert "readable by others (mode 644): chmod 600" in text
    assert "unknown cameras: ghost-9" in text
    assert "none.onnx not found" in text
    secrets.chmod(0o600)
    quiet = verify_machine(document, config_path=path, environ={"GATE_PW": "x"})
    assert [w.path for w in quiet.warnings] == ["secrets_file", "detection.model_path"]


def test_broken_secrets_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("- not a mapping\n")
    path, document = _document(tmp_path, f"{{data_dir: {tmp_path}/data}}", "secrets_file: secrets.yaml\n")
    result = verify_machine(document, config_path=path, environ={"GATE_PW": "x"})
    assert len(result.errors) == 1
    assert "must map camera ids to password strings" in result.errors[0].message
    assert result.errors[0].line == 5


def test_hostile_secrets_file_is_an_error_naming_its_line(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("gate-1: pw\nyard-1: " + "[" * 10_000 + "]" * 10_000 + "\n")
    path, document = _document(tmp_path, f"{{data_dir: {tmp_path}/data}}", "secrets_file: secrets.yaml\n")
    [problem] = verify_machine(document, config_path=path, environ={"GATE_PW": "x"}).errors
    assert (problem.path, problem.line) == ("secrets_file", 5)
    assert problem.message == f"refused: collections nested deeper than 64 levels ({secrets}:2)"


def test_media_cpus_the_machine_does_not_give_are_an_error_with_their_line(tmp_path: Path) -> None:
    extra = "recording:\n  media_cpus: [0, 4000]\n"
    path, document = _document(tmp_path, f"{{data_dir: {tmp_path}/data}}", extra)
    result = verify_machine(document, config_path=path, environ={"GATE_PW": "x"})
    [problem] = result.errors
    assert (problem.path, problem.line) == ("recording.media_cpus", 6)
    assert problem.message.startswith("CPU 4000 not available to the station (it may run on 0")


def test_unavailable_cpus_message_is_none_when_all_are_available() -> None:
    assert unavailable_cpus_message([0, 1], {0, 1, 2}) is None
    assert unavailable_cpus_message([3, 1, 5], {0, 1}) == (
        "CPU 3, 5 not available to the station (it may run on 0, 1)"
    )
