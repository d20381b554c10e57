"""``station model export`` of an Ultralytics ``.pt``, offline, through the installed command.

The ``.pt`` is built here from Ultralytics' own ``yolov8n.yaml`` with random weights (nothing is downloaded),
in a child process that imports Ultralytics the way the export does (``console.cli.ultralytics_shim``).
Class 0 is named ``person`` so that ``station model check`` finds what people detection needs.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from console.cli.ultralytics_shim import cpu_nms
from detection.nms import plan_nms
from tests.support.paths import REPO_ROOT
from tests.support.station_process import run_station, station_environ

pytestmark = pytest.mark.slow

BUILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from console.cli.ultralytics_shim import load_yolo

    out = Path(sys.argv[1])
    yolo = load_yolo(Path(sys.argv[2]))
    model = yolo("yolov8n.yaml")  # the architecture shipped inside the package, random weights
    model.model.names = {i: "person" if i == 0 else f"thing{i}" for i in range(len(model.model.names))}
    model.save(str(out))
    """
)


def _require_ultralytics() -> None:
    missing = [
        name
        for name in ("torch", "torchvision", "ultralytics", "onnxslim")
        if not importlib.util.find_spec(name)
    ]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (bash .ci/setup installs them)")


@pytest.fixture(scope="module")
def random_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_ultralytics()
    path = tmp_path_factory.mktemp("pt") / "random-yolov8n.pt"
    built = subprocess.run(
        [sys.executable, "-c", BUILD, str(path), str(tmp_path_factory.mktemp("build-config"))],
        cwd=REPO_ROOT,
        env=station_environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return path


def test_export_of_a_pt_writes_onnx_that_checks(random_pt: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "detector.onnx"
    exported = run_station(
        "model", "export", str(random_pt), "--out", str(target), "--imgsz", "320", timeout_s=180
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert f"{target}: exported from {random_pt} at 320 px" in exported.stdout
    assert target.is_file()
    assert sorted(p.name for p in random_pt.parent.iterdir()) == [random_pt.name]  # nothing left beside it
    checked = run_station("model", "check", str(target), "--runs", "2", "--backend", "onnxruntime")
    assert checked.returncode == 0, checked.stderr
    assert "input:      320x320" in checked.stdout
    assert "0 person, 1 thing1, 2 thing2" in checked.stdout and "(80 in all)" in checked.stdout
    assert "person:     yes" in checked.stdout


def test_export_of_a_pt_that_is_not_a_model_exits_78(tmp_path: Path) -> None:
    _require_ultralytics()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a pickle")
    result = run_station("model", "export", str(broken), "--out", str(tmp_path / "x.onnx"), timeout_s=120)
    assert result.returncode == 78, result.stderr[-3000:]
    assert "not an Ultralytics model it can export" in result.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_cpu_nms_keeps_what_the_station_nms_keeps() -> None:
    """The operator the shim registers for ``torchvision::nms`` agrees with ``detection.nms.plan_nms``."""
    _require_ultralytics()
    torch = importlib.import_module("torch")
    rng = np.random.default_rng(7)
    corners = rng.uniform(0, 200, (300, 2)).astype(np.float32)
    xyxy = np.concatenate([corners, corners + rng.uniform(5, 60, (300, 2)).astype(np.float32)], axis=1)
    score = rng.uniform(0, 1, 300).astype(np.float32)
    for iou in (0.3, 0.45, 0.7):
        expected = plan_nms(xyxy, score, np.zeros(300, np.int64), iou_threshold=iou)
        kept = cpu_nms(torch.from_numpy(xyxy), torch.from_numpy(score), iou)
        assert kept.tolist() == expected.tolist()
    empty = cpu_nms(torch.zeros((0, 4)), torch.zeros((0,)), 0.5)
    assert empty.tolist() == []
