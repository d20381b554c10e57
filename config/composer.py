"""Parse YAML text within fixed limits, so that a hostile file is refused at once, with its line.

PyYAML composes an alias as a reference to the anchored node, so a few hundred bytes can describe an
astronomically large tree ("billion laughs": nine levels of nine aliases stand for 387 million nodes), and
whatever walks the tree afterwards (the line map, pydantic) expands it. Its composer also recurses once per
nesting level, so ten thousand ``[`` end in a ``RecursionError``. :class:`BoundedLoader` counts while it
composes and refuses

- collections nested deeper than :data:`MAX_DEPTH`;
- aliases that together stand for more than :data:`MAX_ALIAS_NODES` nodes (a shared block of settings
  referenced a few times is fine);
- an alias used inside the node it names (a recursive structure, which no config needs).

Each refusal is a :class:`YamlLimitError`, a ``yaml.MarkedYAMLError`` that carries the line.
:func:`yaml_problem` turns any PyYAML error into one :class:`~config.error.Problem`.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from config.error import Problem

MAX_DEPTH = 64
MAX_ALIAS_NODES = 10_000


class YamlLimitError(yaml.MarkedYAMLError):
    """The document goes beyond what a config file needs: nested too deep, or aliases expanding too far."""


def _mark(event: yaml.Event) -> yaml.Mark | None:
    mark = event.start_mark
    return mark if isinstance(mark, yaml.Mark) else None  # the pure-Python parser makes yaml.Mark only


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses deep nesting, alias bombs and recursive aliases while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._alias_nodes = 0  # nodes that aliases stand for, in total
        self._expanded = 0  # nodes composed so far, each alias counting as the nodes it stands for
        self._sizes: dict[int, int] = {}  # id(anchored node) -> nodes it stands for, once composed

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        if isinstance(event, yaml.AliasEvent):
            return self._compose_alias(parent, index, event)
        nested = isinstance(event, yaml.CollectionStartEvent)
        if nested:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(
                    problem=f"refused: collections nested deeper than {MAX_DEPTH} levels",
                    problem_mark=_mark(event),
                )
        start = self._expanded
        node = super().compose_node(parent, index)
        self._expanded += 1
        if nested:
            self._depth -= 1
        if event.anchor is not None and node is not None:
            self._sizes[id(node)] = self._expanded - start
        return node

    def _compose_alias(
        self, parent: yaml.Node | None, index: int, event: yaml.AliasEvent
    ) -> yaml.Node | None:
        node = super().compose_node(parent, index)  # the anchored node (or an "undefined alias" error)
        size = self._sizes.get(id(node))
        if size is None:
            raise YamlLimitError(
                problem=f"refused: alias *{event.anchor} is used inside its own anchor (recursive)",
                problem_mark=_mark(event),
            )
        self._alias_nodes += size
        self._expanded += size
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise YamlLimitError(
                problem=f"refused: aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?)",
                problem_mark=_mark(event),
            )
        return node


def parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the plain data of one YAML document; ``(None, None)`` if empty.

    Raises ``yaml.YAMLError``: :class:`YamlLimitError`, a syntax error, or a ``ReaderError`` for a control
    character such as NUL.
    """
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        # constructing resolves merge keys (<<: *x) by rewriting the nodes: keep the tree as written
        return node, loader.construct_document(copy.deepcopy(node))
    finally:
        loader.dispose()


def yaml_problem(exc: yaml.YAMLError, *, text: str, source: str) -> Problem:
    """One readable :class:`Problem`, with the line where known, for an error raised by :func:`parse_yaml`."""
    if isinstance(exc, YamlLimitError):
        mark = exc.problem_mark
        return Problem(source, "", str(exc.problem), mark.line + 1 if mark is not None else None)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark
        detail = " ".join(p for p in (exc.context, exc.problem) if p)
        return Problem(
            source, "", f"YAML syntax error: {detail}", mark.line + 1 if mark is not None else None
        )
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        code = exc.character  # the code point; for str input the position is an index into the text
        name = "NUL" if code == 0 else f"#x{code:04x}"
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        return Problem(source, "", f"YAML error: control character {name} is not allowed in the file", line)
    return Problem(source, "", "YAML error: the file cannot be parsed")
