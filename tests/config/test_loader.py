"""The loader: one report with every problem, its path and its line; clear messages for common mistakes."""

from __future__ import annotations

import itertools
import time
import tracemalloc
from pathlib import Path

import pytest

from config.error import EXIT_CONFIG, ConfigError, Problem
from config.loader import format_loc, load_config, load_document, parse_config, parse_document

GOOD = """\
station: {name: Test, timezone: Asia/Almaty}
storage: {data_dir: /tmp/station-test}
cameras:
  - id: gate-1
    name: Gate
    url: rtsp://10.0.0.1/main
"""


def _problems(text: str) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="station.yaml")
    return info.value.problems


def test_valid_config_parses() -> None:
    config = parse_config(GOOD)
    assert config.camera("gate-1").name == "Gate"
    assert EXIT_CONFIG == 78


def test_every_problem_is_reported_once_with_path_and_line() -> None:
    text = """\
station: {name: Test, timezone: Asia/Almaty}
storage: {data_dir: /tmp/station-test}
cameras:
  - id: gate-1
    name: Gate
    url: rtsp://10.0.0.1/main
  - id: gate-1
    name: Gate again
    url: http://10.0.0.2/main
    colour: red
"""
    problems = _problems(text)
    rendered = [str(p) for p in problems]
    assert rendered == [
        "station.yaml:7: cameras[1].id: duplicate camera id 'gate-1' (also used by cameras[0])",
        "station.yaml:9: cameras[1].url: unsupported URL scheme 'http': expected rtsp://, rtsps:// or file://",
        "station.yaml:10: cameras[1].colour: unknown key (not part of the station configuration; check the "
        "spelling)",
    ]
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert info.value.report().startswith("configuration is invalid (3 problems):\n  station.yaml:7: ")


def test_yaml_syntax_error_names_the_line() -> None:
    problems = _problems("station: {name: Test\nstorage: [\n")
    assert len(problems) == 1
    assert problems[0].message.startswith("YAML syntax error")
    assert problems[0].line is not None


def test_duplicate_yaml_key_is_reported() -> None:
    problems = _problems(GOOD + "station: {name: Other}\n")
    assert [(p.path, p.line, p.message) for p in problems] == [("station", 7, "duplicate key 'station'")]


def test_invalid_time_zone_is_explained() -> None:
    problems = _problems(GOOD.replace("Asia/Almaty", "Asia/Atlantis"))
    assert [(p.path, p.line) for p in problems] == [("station.timezone", 1)]
    assert "unknown time zone 'Asia/Atlantis' (expected an IANA name" in problems[0].message


def test_missing_required_keys() -> None:
    problems = _problems("station: {name: Test}\n")
    assert [(p.path, p.message) for p in problems] == [("storage", "required key is missing")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("# only a comment\n", "file is empty"),
        ("- a\n- b\n", "top level must be a mapping"),
    ],
)
def test_documents_that_are_not_a_station(text: str, message: str) -> None:
    assert message in _problems(text)[0].message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value.problems[0]) == f"{tmp_path / 'nope.yaml'}: file not found"


def test_directory_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("station: {name: \xe9}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(latin)


def test_cross_field_findings_share_the_report_with_lines() -> None:
    text = """\
station: {name: Test}
storage: {data_dir: /tmp/station-test}
cameras:
  - id: gate-1
    name: Gate
    url: rtsp://10.0.0.1/main
    detection:
      enabled: true
      kinds: [motion, person]
      zones:
        - {name: door, points: [[0, 0], [1, 0], [1, 1]]}
        - {name: door, points: [[0, 0], [1, 0], [0, 1]]}
"""
    rendered = [str(p) for p in _problems(text)]
    assert rendered[0].startswith("station.yaml:9: cameras[0].detection.kinds: person detection needs")
    assert rendered[1] == (
        "station.yaml:12: cameras[0].detection.zones[1].name: duplicate zone name 'door' on camera 'gate-1' "
        "(also used by zones[0])"
    )


def test_document_keeps_lines_for_later_checks(tmp_path: Path) -> None:
    path = tmp_path / "station.yaml"
    path.write_text(GOOD)
    document = load_document(path)
    assert document.source == "station.yaml"
    assert document.line(("storage", "data_dir")) == 2
    assert document.line(("cameras", 0, "url")) == 6
    assert document.line(("storage", "recordings_dir")) == 2  # absent: nearest parent
    assert str(document.problem(("cameras", 0, "url"), "x")) == "station.yaml:6: cameras[0].url: x"
    assert parse_document(GOOD).config == document.config


def test_format_loc() -> None:
    assert format_loc(("cameras", 1, "url")) == "cameras[1].url"
    assert format_loc(()) == ""


def _laughs(levels: int) -> str:
    """A "billion laughs" document: each level is a list of nine aliases to the level before."""
    names = [f"l{level}" for level in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [" + ", ".join(["lol"] * 9) + "]"]
    lines += [
        f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]" for prev, cur in itertools.pairwise(names)
    ]
    return "\n".join(lines) + "\n"


def _refused(text: str) -> tuple[Problem, float, int]:
    """The one problem a hostile document is refused with, how long that took, and the peak allocation."""
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        parse_document(text, source="station.yaml")
    elapsed_s = time.monotonic() - started
    assert len(info.value.problems) == 1, info.value.report()
    tracemalloc.start()  # a second, traced run: tracing slows the parser several times over
    try:
        with pytest.raises(ConfigError):
            parse_document(text, source="station.yaml")
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return info.value.problems[0], elapsed_s, peak_bytes


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(_laughs(6), 5, "aliases expand to more than 10000 nodes", id="billion-laughs-6"),
        pytest.param(
            "x: &x [" + ",".join(["0"] * 1000) + "]\nfan: [" + ",".join(["*x"] * 100) + "]\n",
            2,
            "aliases expand to more than 10000 nodes",
            id="anchor-fan-out",
        ),
        pytest.param(
            "station: " + "[" * 10_000 + "]" * 10_000 + "\n", 1, "nested deeper than 64", id="deep-seq"
        ),
        pytest.param(
            "station: " + "{a: " * 10_000 + "b" + "}" * 10_000, 1, "nested deeper than 64", id="deep-map"
        ),
        pytest.param(
            "".join("  " * i + f"k{i}:\n" for i in range(80)) + "  " * 80 + "x: 1\n",
            65,
            "nested deeper than 64",
            id="deep-block",
        ),
        pytest.param(
            "station: {name: T}\nloop: &loop [*loop]\n", 2, "alias *loop is used inside", id="recursive"
        ),
        pytest.param("station: {name: T}\nstorage: {data_dir: /tmp/x\x00}\n", 2, "NUL", id="nul-byte"),
    ],
)
def test_hostile_yaml_is_refused_fast_with_its_line(text: str, line: int, message: str) -> None:
    problem, elapsed_s, peak_bytes = _refused(text)
    assert (problem.file, problem.line) == ("station.yaml", line), problem
    assert message in problem.message
    assert elapsed_s < 1.0
    assert peak_bytes < 32 * 1024 * 1024


def test_aliases_within_the_bound_still_work() -> None:
    text = """\
station: {name: Test}
storage: {data_dir: /tmp/station-test}
cameras:
  - id: gate-1
    name: Gate
    url: rtsp://10.0.0.1/main
    detection: &detection
      enabled: true
      zones:
        - {name: door, points: [[0, 0], [1, 0], [1, 1]]}
  - id: gate-2
    name: Gate 2
    url: rtsp://10.0.0.2/main
    detection: *detection
"""
    document = parse_document(text)
    assert document.config.cameras[1].detection == document.config.cameras[0].detection
    assert document.line(("cameras", 1, "detection", "zones", 0)) == 10  # where the aliased value is written


def test_nesting_up_to_the_limit_is_parsed() -> None:
    deep = "[" * 60 + "]" * 60
    problems = _problems(GOOD + f"extra: {deep}\n")
    assert [(p.path, p.line) for p in problems] == [("extra", 7)]  # unknown key, not a refusal


def test_merge_keys_still_work_and_are_not_duplicate_keys() -> None:
    text = """\
station: {name: Test}
storage: {data_dir: /tmp/station-test}
cameras:
  - &gate {id: gate-1, name: Gate, url: rtsp://10.0.0.1/main}
  - <<: *gate
    id: gate-2
    url: rtsp://10.0.0.2/main
"""
    document = parse_document(text)
    assert [(c.id, c.name, c.url) for c in document.config.cameras] == [
        ("gate-1", "Gate", "rtsp://10.0.0.1/main"),
        ("gate-2", "Gate", "rtsp://10.0.0.2/main"),
    ]
    assert document.line(("cameras", 1, "id")) == 6
