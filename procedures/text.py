"""What text motcua takes in may hold: a size limit on everything, and no control characters.

Every name, note, reason and form value an officer, a citizen or a client sends passes through
these types before anything is recorded, so that a 3 MB note cannot fill a history (or fail a
workflow task) and an escape sequence, a NUL or a right-to-left override in a user name cannot
rewrite a terminal or an audit trail. Output is escaped as well (`motcua.commands.output`):
what was recorded before these checks existed is still printed safely.

A value recorded in a history before a limit existed must still decode on replay: models read
back from history are validated with `RECORDED` as pydantic context, which skips the checks
(they ran when the value came in).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

MAX_LINE = 200
"""Characters in a one-line value: a name, a user, a code, a step, an address line."""
MAX_NAME = 500
"""Characters in the name of something a procedure declares (a document, a fee, a step)."""
MAX_TEXT = 2_000
"""Characters in a free text (a note, a reason), and the default `max_length` of a declared
`string` field."""
MAX_PAYLOAD = 64 * 1024
"""Bytes of JSON in a whole form, a task's fields or an event's data."""
MAX_ITEMS = 50
"""Entries in a list an update carries (missing documents, supplemented documents)."""
MAX_PROCEDURE_FILE = 1024 * 1024
"""Bytes of a procedure file, checked before it is parsed."""

RECORDED: dict[str, bool] = {"recorded": True}
"""Pydantic context for values read back from a history: the input checks are skipped."""

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""The bidirectional marks, embeddings, overrides and isolates."""
_CONTROL = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}]")
"""C0 and C1 control characters (newline apart) and the bidirectional marks and overrides."""
_NEWLINE = re.compile("[\n\u2028\u2029]")


def control_problem(text: str, *, lines: bool = False) -> str | None:
    """Why `text` may not be taken in (a control character, by its code point), or None."""
    found = _CONTROL.search(text) or (None if lines else _NEWLINE.search(text))
    if found is None:
        return None
    return f"control character U+{ord(found.group()):04X} is not allowed"


def _recorded(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("recorded"))


def _limit(limit: int, *, lines: bool) -> Any:
    def check(value: str, info: ValidationInfo) -> str:
        if _recorded(info):
            return value
        if len(value) > limit:
            raise ValueError(f"at most {limit} characters ({len(value)} given)")
        problem = control_problem(value, lines=lines)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _items(limit: int) -> Any:
    def check(value: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
        if not _recorded(info) and len(value) > limit:
            raise ValueError(f"at most {limit} entries ({len(value)} given)")
        return value

    return AfterValidator(check)


MAX_DEPTH = 32
"""How deep a JSON value sent in (a form, task fields, event data) may nest. Checked by the
clients (`motcua.client`, the web app, the CLI), not by the workflow: a value nested hundreds
deep passed the 64 KiB limit but failed the payload converter, after a dossier code was issued."""


def depth_problem(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """Why a JSON value nests too deep to be sent, or None (walked without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list | tuple):
            if depth > limit:
                return f"nested more than {limit} deep"
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return None


def payload_problem(value: Any, limit: int = MAX_PAYLOAD) -> str | None:
    """Why a JSON value (a form, fields, event data) may not be taken in, or None: its size,
    or a control character in one of its strings (keys included)."""
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
    if size > limit:
        return f"at most {limit} bytes of JSON ({size} given)"
    for text in _strings(value):
        problem = control_problem(text, lines=True)
        if problem is not None:
            return problem
    return None


def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _payload(value: Any, info: ValidationInfo) -> Any:
    if not _recorded(info):
        problem = payload_problem(value)
        if problem is not None:
            raise ValueError(problem)
    return value


Line = Annotated[str, _limit(MAX_LINE, lines=False)]
"""One line of at most `MAX_LINE` characters, no control characters."""
Text = Annotated[str, _limit(MAX_TEXT, lines=True)]
"""A free text of at most `MAX_TEXT` characters; new lines allowed, other controls not."""
Lines = Annotated[tuple[Line, ...], _items(MAX_ITEMS)]
"""At most `MAX_ITEMS` one-line values."""
Payload = Annotated[dict[str, Any], AfterValidator(_payload)]
"""A JSON object of at most `MAX_PAYLOAD` bytes, no control characters in its strings."""


def escape(text: str, limit: int | None = None) -> str:
    """`text` safe to print on a terminal, in a log or a report: every control character and
    bidirectional mark shown as its escape (`\\x1b`, `\\u202e`, `\\n`), and cut at `limit`
    characters. One helper for every output, so a value recorded before the input checks, or
    read from a raw history, cannot move the cursor or reverse a line."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return _ESCAPED.sub(_escape_one, text)


_ESCAPED = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")


def _escape_one(found: re.Match[str]) -> str:
    char = found.group()
    return repr(char)[1:-1] if ord(char) < 0x100 else f"\\u{ord(char):04x}"
