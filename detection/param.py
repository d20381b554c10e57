"""Rule parameters by name: ``RULE.NAME=VALUE`` from the command line, the config, or a zone.

Each rule keeps its parameters in a frozen dataclass of floats, ints and bools; this module overrides them
by name with a clear error for an unknown name or a value of the wrong type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class UnknownParameterError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown parameter"


def parse_param(text: str) -> tuple[str, str]:
    """``"littering.dwell_s=8"`` → ("littering.dwell_s", "8")."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or "." not in name or not value.strip():
        raise ValueError(f"--param {text!r}: expected RULE.NAME=VALUE, e.g. person.min_dwell_s=2")
    return name, value.strip()


def rule_params(params: Mapping[str, object], rule: str) -> dict[str, object]:
    """The entries of ``params`` for ``rule`` (``"person"``), with the prefix removed."""
    prefix = f"{rule}."
    return {key[len(prefix) :]: value for key, value in params.items() if key.startswith(prefix)}


def apply_params(defaults: T, rule: str, params: Mapping[str, object]) -> T:
    """``defaults`` (a dataclass instance) with the named fields replaced, values converted to the field's
    type. Unknown names raise :class:`UnknownParameterError` listing the known ones."""
    fields = {f.name: f for f in dataclasses.fields(defaults)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {}
    for name, raw in rule_params(params, rule).items():
        if name not in fields:
            known = ", ".join(f"{rule}.{n}" for n in fields)
            raise UnknownParameterError(f"unknown parameter {rule}.{name} (known: {known})")
        current = getattr(defaults, name)
        changes[name] = _convert(current, raw, f"{rule}.{name}")
    return dataclasses.replace(defaults, **changes)  # type: ignore[type-var]


def known_rules(params: Mapping[str, object]) -> set[str]:
    return {key.split(".", 1)[0] for key in params}


def _convert(current: object, raw: object, name: str) -> object:
    try:
        if isinstance(current, bool):
            if isinstance(raw, str):
                if raw.lower() in ("1", "true", "yes", "on"):
                    return True
                if raw.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(raw)
            return bool(raw)
        if isinstance(current, int):
            value = float(raw)  # type: ignore[arg-type]
            if value != int(value):
                raise ValueError(raw)
            return int(value)
        if isinstance(current, float):
            return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {raw!r} is not a valid {type(current).__name__}") from exc
    return raw
