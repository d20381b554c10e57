"""Load a station YAML file into :class:`config.schema.StationConfig`, or fail with one full report.

Line numbers come from PyYAML's node marks: the file is composed once into a node tree (within the limits of
:mod:`config.composer`: no alias bombs, no deep nesting), every value's position is recorded by its path, and
pydantic's error locations are looked up in that map.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config.composer import parse_yaml, yaml_problem
from config.crosscheck import verify_config
from config.error import ConfigError, Problem
from config.schema import StationConfig

Loc = tuple[str | int, ...]


def format_loc(loc: Sequence[str | int]) -> str:
    """``("cameras", 1, "url")`` -> ``cameras[1].url``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[tuple[Loc, int, str]]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(((*loc, key), key_node.start_mark.line + 1, f"duplicate key {key!r}"))
            seen.add(key)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), lines, problems)


def _line_for(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _clean_loc(loc: Sequence[str | int]) -> Loc:
    # pydantic adds the tag of a union member or validator name ("function-after[...]"): drop those.
    return tuple(p for p in loc if isinstance(p, int) or not (("[" in p and "]" in p) or p == "__root__"))


def _message(error: Mapping[str, Any]) -> str:
    text = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown key (not part of the station configuration; check the spelling)"
    if error["type"] == "missing":
        return "required key is missing"
    return text.removeprefix("Value error, ")


def _duplicate_ids(raw: Any) -> Iterator[tuple[Loc, str]]:
    cameras = raw.get("cameras") if isinstance(raw, dict) else None
    if not isinstance(cameras, list):
        return
    first: dict[str, int] = {}
    for index, camera in enumerate(cameras):
        if not isinstance(camera, dict) or not isinstance(camera.get("id"), str):
            continue
        cid = camera["id"]
        if cid in first:
            yield (
                ("cameras", index, "id"),
                f"duplicate camera id {cid!r} (also used by cameras[{first[cid]}])",
            )
        else:
            first[cid] = index


@dataclass(frozen=True)
class ConfigDocument:
    """A parsed config and where each of its values sits in the file."""

    config: StationConfig
    source: str
    lines: Mapping[Loc, int]

    def line(self, loc: Sequence[str | int]) -> int | None:
        """Line of the value at ``loc`` (or of its nearest parent present in the file)."""
        return _line_for(tuple(loc), self.lines)

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        """A :class:`Problem` about the value at ``loc``, with its line."""
        return Problem(self.source, format_loc(loc), message, self.line(loc))


def parse_document(text: str, *, source: str = "station.yaml") -> ConfigDocument:
    """Parse YAML text into a config with its line map. Raises :class:`ConfigError` listing every problem."""
    try:
        node, raw = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_problem(exc, text=text, source=source)]) from exc
    if node is None or raw is None:
        raise ConfigError([Problem(source, "", "file is empty: expected station, storage and cameras")])
    if not isinstance(raw, dict):
        raise ConfigError(
            [Problem(source, "", "top level must be a mapping (station:, storage:, cameras:)", 1)]
        )

    lines: dict[Loc, int] = {}
    yaml_problems: list[tuple[Loc, int, str]] = []
    _walk(node, (), lines, yaml_problems)
    problems = [Problem(source, format_loc(loc), msg, line) for loc, line, msg in yaml_problems]
    duplicates = list(_duplicate_ids(raw))
    problems += [Problem(source, format_loc(loc), msg, _line_for(loc, lines)) for loc, msg in duplicates]

    try:
        config = StationConfig.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            loc = _clean_loc(error["loc"])
            message = _message(error)
            if duplicates and "duplicate camera id" in message:
                continue  # already reported with its exact path
            problems.append(Problem(source, format_loc(loc), message, _line_for(loc, lines)))
        raise ConfigError(_by_line(problems)) from exc
    document = ConfigDocument(config=config, source=source, lines=lines)
    problems += [document.problem(f.loc, f.message) for f in verify_config(config)]
    if problems:
        raise ConfigError(_by_line(problems))
    return document


def parse_config(text: str, *, source: str = "station.yaml") -> StationConfig:
    """Parse YAML text. Raises :class:`ConfigError` listing every problem found."""
    return parse_document(text, source=source).config


def _by_line(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def read_config_text(path: Path) -> str:
    """The file's text; a missing or unreadable file is a :class:`ConfigError`."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError([Problem(str(path), "", "file not found")]) from exc
    except IsADirectoryError as exc:
        raise ConfigError([Problem(str(path), "", "is a directory, expected a YAML file")]) from exc
    except PermissionError as exc:
        raise ConfigError([Problem(str(path), "", "permission denied reading the file")]) from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError([Problem(str(path), "", f"not UTF-8 text (byte {exc.start})", line)]) from exc
    except OSError as exc:
        raise ConfigError([Problem(str(path), "", f"cannot read the file: {exc.strerror}")]) from exc


def load_document(path: Path) -> ConfigDocument:
    """Read and parse a config file, keeping the line map (for checks that run later)."""
    return parse_document(read_config_text(path), source=path.name)


def load_config(path: Path) -> StationConfig:
    """Read and parse a config file; a missing or unreadable file is a :class:`ConfigError` too."""
    return load_document(path).config
