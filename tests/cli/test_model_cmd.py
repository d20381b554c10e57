"""``station model check`` and ``station model export`` through the installed command."""

from __future__ import annotations

from pathlib import Path

from detection.dequantize import is_dynamic_int8
from tests.support.paths import shared_file
from tests.support.station_process import run_station


def test_check_prints_classes_input_backend_and_speed() -> None:
    model = shared_file("models", "yolo11n_int8.onnx")
    result = run_station("model", "check", str(model), "--runs", "3", "--backend", "onnxruntime")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "backend:    onnxruntime" in out and "input:      320x320" in out
    assert "0 person, 1 bicycle" in out and "(80 in all)" in out
    assert "ms per 768x576 frame" in out


def test_export_writes_an_fp32_copy_that_checks(tmp_path: Path) -> None:
    model = shared_file("models", "yolo11n_int8.onnx")
    target = tmp_path / "fp32.onnx"
    result = run_station("model", "export", str(model), "--out", str(target))
    assert result.returncode == 0, result.stderr
    assert "88 INT8 convolutions turned into FP32" in result.stdout
    assert not is_dynamic_int8(target)
    assert run_station("model", "check", str(target), "--runs", "2").returncode == 0


def test_bad_files_exit_78_with_the_reason(tmp_path: Path) -> None:
    missing = run_station("model", "check", str(tmp_path / "x.onnx"))
    assert missing.returncode == 78 and "does not exist" in missing.stderr
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\0" * 100)
    wrong = run_station("model", "export", str(other), "--out", str(tmp_path / "o.onnx"))
    assert wrong.returncode == 78 and "expected a .onnx" in wrong.stderr
