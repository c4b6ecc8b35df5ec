"""YAML text to plain data, remembering where every value came from.

PyYAML's own loaders lose positions, silently keep the last of two equal keys and expand
aliases without limit (the "billion laughs"). Here libyaml (the C parser) composes the node
tree, which keeps every node's mark and shares aliased nodes instead of copying them; a small
constructor then builds plain data from it, rejecting duplicate keys and capping how many
nodes aliases may expand to. A `Locator` turns a path into the data
(`("steps", "receive", "agency")`) back into a line and column from the node tree, or, once
the tree has been dropped to save memory, from the text composed again: only a problem to
report pays for it.

Scalars follow the YAML 1.2 core schema, like yaml-language-server in editors: `yes`, `no`,
`on`, `off` and `7:30` stay text instead of becoming booleans and base-60 numbers, and dates
stay text for pydantic to parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from procedures.errors import Problem, ProcedureError

try:
    from yaml._yaml import CParser as _Parser

    _LIBYAML = True
except ImportError:  # pragma: no cover - libyaml missing: the pure-Python parser is slower
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)

    _LIBYAML = False


MAX_NODES = 100_000
"""How many nodes the data of one file may have once aliases are expanded."""

MAX_DEPTH = 100
"""How deeply mappings and lists may nest."""

DataPath = Sequence[str | int]
"""A path into the data: mapping keys and list indexes, e.g. `("documents", 0, "name")`."""

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
"""Implicit types of plain scalars by first character: the YAML 1.2 core schema, plus `<<`."""

for _tag, _pattern, _first in (
    (_BOOL, r"true|True|TRUE|false|False|FALSE", "tTfF"),
    (_INT, r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        _FLOAT,
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
    (_NULL, r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    (_MERGE, r"<<", "<"),
):
    for _char in _first:
        _IMPLICIT.setdefault(_char, []).append((_tag, re.compile(f"^(?:{_pattern})$")))


class _Composer(_Parser):
    """libyaml's composer, building nodes and never objects, with type resolution deferred.

    The parser calls `resolve(kind, value, implicit)` and the two path-resolver hooks once per
    node; as Python methods they cost more than libyaml's whole parse. Bound to `slice` and
    `tuple`, C callables that accept those arguments, they cost nothing, and an untagged node
    keeps the call's arguments as its tag (`slice(kind, value, implicit)`), which `tag_of`
    resolves when the node is used.
    """

    resolve = slice
    descend_resolver = slice
    ascend_resolver = tuple


def tag_of(node: Node) -> str:
    """The node's tag: explicit, or implied by its kind and, for plain scalars, its text."""
    tag = node.tag
    if type(tag) is not slice:
        return tag
    if type(node) is ScalarNode:
        if tag.step[0]:
            for implied, pattern in _IMPLICIT.get(node.value[:1], ()):
                if pattern.match(node.value):
                    return implied
        return _STR
    return _MAP if type(node) is MappingNode else _SEQ


def compose(text: str, file: str) -> Node:
    """The node tree of one YAML document; any syntax error becomes a located problem."""
    composer = _Composer(text)
    try:
        root = composer.get_single_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = inside(text, mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (err.context, err.problem) if part)
        raise ProcedureError([Problem(file, line, column, f"YAML syntax error: {what}")]) from None
    except yaml.reader.ReaderError as err:
        # libyaml counts bytes of the UTF-8 text, the pure-Python reader characters
        where = text.encode() if _LIBYAML else text
        line, column = position(where, err.position)
        code = err.character if isinstance(err.character, int) else ord(err.character)
        message = f"character U+{code:04X} is not allowed in a YAML file"
        raise ProcedureError([Problem(file, line, column, message)]) from None
    finally:
        composer.dispose()
    if root is None:
        raise ProcedureError(
            [Problem(file, 1, 1, "empty file", "a procedure starts with `code:` and `name:`")]
        )
    return root


LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""What YAML (and so libyaml's line numbers) counts as the end of a line."""


def inside(text: str, line: int, column: int) -> tuple[int, int]:
    """A position moved inside the text: libyaml reports an unexpected end of the text on
    the line after the last one."""
    lines = LINE_BREAK.split(text)
    if line > len(lines):
        return len(lines), len(lines[-1]) + 1
    return line, min(column, len(lines[line - 1]) + 1)


def position(text: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a character offset into a text, or of a
    byte offset into UTF-8 bytes."""
    if isinstance(text, bytes):
        text = text[:offset].decode("utf-8", errors="replace")
        offset = len(text)
    breaks = list(LINE_BREAK.finditer(text, 0, offset))
    line_start = breaks[-1].end() if breaks else 0
    return len(breaks) + 1, offset - line_start + 1


def _mark(file: str, node: Node, message: str, hint: str | None = None) -> Problem:
    return Problem(file, node.start_mark.line + 1, node.start_mark.column + 1, message, hint)


_MERGE_KEY = object()
"""What a plain `<<` reads as: only meaningful as a key."""

_PLAIN: dict[str, Any] = {}
"""Values of short plain scalars seen so far: files repeat the same keys and words."""
_PLAIN_LIMIT = 50_000
_UNKNOWN = object()


class _Builder:
    """Builds plain data from nodes; collects problems instead of stopping at the first.

    It runs once per node of every file, hence the inlined fast paths for plain scalars.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.budget = MAX_NODES

    def value(self, node: Node, depth: int = 0) -> Any:
        if type(node) is ScalarNode:
            value = self.scalar(node)
            if value is _MERGE_KEY:
                self.problems.append(_mark(self.file, node, "`<<` may only be used as a key"))
                return None
            return value
        self.budget -= len(node.value)
        if self.budget < 0:
            message = f"more than {MAX_NODES} values once aliases are expanded"
            raise ProcedureError([_mark(self.file, node, message)])
        if depth > MAX_DEPTH:
            message = f"nested more than {MAX_DEPTH} deep (or an alias refers to its own value)"
            raise ProcedureError([_mark(self.file, node, message)])
        tag = tag_of(node)
        if type(node) is MappingNode and tag == _MAP:
            return self.mapping(node, depth)
        if type(node) is SequenceNode and tag == _SEQ:
            return [self.value(item, depth + 1) for item in node.value]
        self.problems.append(_mark(self.file, node, f"unsupported YAML tag `{tag}`"))
        return None

    def mapping(self, node: MappingNode, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        plain = _PLAIN
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode:
                self.problems.append(_mark(self.file, key_node, "a key must be a plain value"))
                continue
            tag = key_node.tag
            key = _UNKNOWN
            if type(tag) is slice and tag.step[0]:
                key = plain.get(key_node.value, _UNKNOWN)
            if key is _UNKNOWN:
                key = self.scalar(key_node)
            if key is _MERGE_KEY:
                merged.update(self.merge(value_node, depth))
                continue
            if key in result:
                self.problems.append(
                    _mark(self.file, key_node, f"duplicate key `{key}`", "each key may appear once")
                )
            tag = value_node.tag
            if type(tag) is slice and type(value_node) is ScalarNode:
                if not tag.step[0]:
                    result[key] = value_node.value
                    continue
                value = plain.get(value_node.value, _UNKNOWN)
                if value is not _UNKNOWN and value is not _MERGE_KEY:
                    result[key] = value
                    continue
            result[key] = self.value(value_node, depth + 1)
        return {**merged, **result} if merged else result

    def merge(self, node: Node, depth: int) -> dict[Any, Any]:
        """`<<: *defaults` or `<<: [*a, *b]`: earlier mappings win, explicit keys win over all."""
        sources = node.value if type(node) is SequenceNode else [node]
        merged: dict[Any, Any] = {}
        for source in reversed(sources):
            value = self.value(source, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
            else:
                self.problems.append(_mark(self.file, source, "`<<` merges mappings only"))
        return merged

    def scalar(self, node: ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if type(tag) is slice:
            if not tag.step[0]:
                return text
            value: Any = text
            for implied, pattern in _IMPLICIT.get(text[:1], ()):
                if pattern.match(text):
                    errors = len(self.problems)
                    value = self.typed(node, implied, text)
                    if len(self.problems) > errors:
                        return value
                    break
            if len(text) <= 40 and len(_PLAIN) < _PLAIN_LIMIT:
                _PLAIN[text] = value
            return value
        return self.typed(node, tag, text)

    def typed(self, node: ScalarNode, tag: str, text: str) -> Any:
        """A scalar of a tag other than plain text."""
        if tag == _STR:
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() == "true"
        if tag == _MERGE:
            return _MERGE_KEY
        try:
            if tag == _INT:
                return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
            if tag == _FLOAT:
                if text[-3:].lower() in ("inf", "nan"):
                    self.problems.append(_mark(self.file, node, f"`{text}` is not a finite number"))
                    return None
                return float(text)
        except ValueError:
            self.problems.append(_mark(self.file, node, f"`{text}` cannot be read as {tag}"))
            return None
        self.problems.append(_mark(self.file, node, f"unsupported YAML tag `{tag}`"))
        return None


def to_data(root: Node, file: str) -> tuple[Any, list[Problem]]:
    """Plain data of a node tree, with the problems found building it."""
    builder = _Builder(file)
    data = builder.value(root)
    return data, builder.problems


def _pairs(node: MappingNode) -> Iterator[tuple[Node, Node]]:
    """Key and value nodes of a mapping, explicit ones first, then merged ones."""
    merges = []
    for key_node, value_node in node.value:
        if tag_of(key_node) == _MERGE:
            merges.append(value_node)
        else:
            yield key_node, value_node
    for merge in merges:
        for source in merge.value if type(merge) is SequenceNode else [merge]:
            if type(source) is MappingNode:
                yield from _pairs(source)


class Locator:
    """Turns a path into the data of one file into the position of its YAML node."""

    def __init__(self, file: str, text: str, root: Node | None = None) -> None:
        self.file = file
        self.text = text
        self._root = root

    @property
    def root(self) -> Node:
        """The file's node tree, composed again when a detached locator needs it."""
        if self._root is None:
            self._root = compose(self.text, self.file)
        return self._root

    def detached(self) -> Locator:
        """The same locator without its node tree, cheap to keep for many files."""
        return Locator(self.file, self.text)

    def node(self, path: DataPath, *, key: bool = False) -> Node:
        """The deepest node along `path`; path items that match nothing are skipped.

        Skipping lets pydantic's locations, which name the chosen union member (`task`) in
        between, be followed too. With `key`, the key node of the last item, if any.
        """
        node, key_node = self.root, None
        for item in path:
            key_node, child = self._child(node, item)
            if child is not None:
                node = child
        return key_node if key and key_node is not None else node

    @staticmethod
    def _child(node: Node, item: str | int) -> tuple[Node | None, Node | None]:
        if type(node) is MappingNode:
            for key_node, value_node in _pairs(node):
                if type(key_node) is ScalarNode and key_node.value == str(item):
                    return key_node, value_node
        elif type(node) is SequenceNode and type(item) is int and 0 <= item < len(node.value):
            return None, node.value[item]
        return None, None

    def problem(
        self, path: DataPath, message: str, hint: str | None = None, *, key: bool = False
    ) -> Problem:
        """A problem at the node of `path` (its key with `key`), e.g. `steps.receive.agency`."""
        return _mark(self.file, self.node(path, key=key), message, hint)
