"""Pydantic's validation errors, said in an author's words and placed on the YAML node at fault.

Pydantic reports `Input should be a valid string` at `('steps', 'receive', 'task', 'share')`;
an author wants `steps.receive.share: expected a number, got text` at the line of `share:`,
a hint naming the field they probably meant when they mistyped one, and the missing field
reported on the mapping that lacks it.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from procedures.errors import Problem
from procedures.models import Procedure
from procedures.yamlnodes import Locator

_IDENTIFIER_PATTERN = "^[a-z][a-z0-9_]*$"


def describe(value: Any) -> str:
    """What a YAML value looks like to its author: text, a number, a list..."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"the number `{value}`"
    if isinstance(value, str):
        return f"the text `{value}`" if len(value) < 40 else "a text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def dotted(path: Sequence[str | int]) -> str:
    """`steps.receive.when[0].if`: a path as an author reads it."""
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else f".{item}" if text else str(item)
    return text


def close_match(word: object, choices: Sequence[str], *, listing: bool = True) -> str | None:
    """`did you mean ...?` for a likely typo, else (with `listing`) the list of valid choices."""
    found = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    if found:
        return f"did you mean `{found[0]}`?"
    return "expected one of: " + ", ".join(choices) if choices and listing else None


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _step_kind(model: Any) -> str | None:
    is_model = isinstance(model, type) and issubclass(model, BaseModel)
    info = _fields(model).get("kind") if is_model else None
    if info is None or get_origin(info.annotation) is not Literal:
        return None
    return str(get_args(info.annotation)[0])


def follow(loc: Sequence[str | int]) -> tuple[list[str | int], Any]:
    """The path without pydantic's union tags (`task`), and the type expected at its end."""
    tp: Any = Procedure
    path: list[str | int] = []
    for item in loc:
        tp = _unwrap(tp)
        if get_origin(tp) in (Union, types.UnionType):
            members = [_unwrap(m) for m in get_args(tp) if m is not type(None)]
            chosen = [m for m in members if _step_kind(m) == item]
            if chosen:
                tp = chosen[0]
                continue
            tp = members[0] if len(members) == 1 else None
        path.append(item)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = _fields(tp).get(str(item))
            tp = info.annotation if info else None
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) is tuple:
            args = get_args(tp)
            tp = args[0] if args[-1] is Ellipsis else args[item] if isinstance(item, int) else None
        else:
            tp = None
    return path, _unwrap(tp)


def _model_fields_at(loc: Sequence[str | int]) -> dict[str, Any]:
    """Fields of the model at a pydantic location (union tags included), by alias."""
    _, tp = follow(loc)
    members = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel):
            return _fields(member)
    return {}


_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "date_type": "a date like 2024-07-01",
    "date_parsing": "a date like 2024-07-01",
    "date_from_datetime_parsing": "a date like 2024-07-01",
    "date_from_datetime_inexact": "a date like 2024-07-01",
    "time_type": 'a time like "07:30"',
    "time_parsing": 'a time like "07:30"',
    "dict_type": "a mapping (`name: value` lines)",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
}

_BOUNDS = {
    "greater_than": ("gt", "more than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}

_LEADS_TO = {"decisions": "decision", "results": "result", "branches": "branch"}


def _message(error: ErrorDetails, path: list[str | int]) -> tuple[str, str | None]:
    """The author's message and hint for one pydantic error at `path`."""
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    last = path[-1] if path else ""
    parent = path[-2] if len(path) > 1 else None
    if kind in ("string_type", "model_type", "model_attributes_type") and value is None:
        if parent in _LEADS_TO:
            what = _LEADS_TO[str(parent)]
            return f"{what} `{last}` has no next step", f"write the step it leads to: `{last}: …`"
        return f"no value given for `{last}`", "write a value or remove the line"
    if kind in _EXPECTED:
        hint = None
        if kind == "string_type" and isinstance(value, int | float | bool):
            hint = f'quote it: "{value}"'
        return f"expected {_EXPECTED[kind]}, got {describe(value)}", hint
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace(" or ", ",")
        choices = [choice.strip(" '") for choice in expected.split(",")]
        return f"`{value}` is not one of: {', '.join(choices)}", close_match(value, choices)
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == _IDENTIFIER_PATTERN:
            return f"`{value}` is not a valid name", (
                "use lower-case letters, digits and underscores, starting with a letter"
            )
        return f"`{value}` is not in the expected form", f"it must match {ctx.get('pattern')}"
    if kind in ("too_short", "too_long"):
        size = ctx.get("min_length" if kind == "too_short" else "max_length")
        word = "at least" if kind == "too_short" else "at most"
        return f"needs {word} {size} item{'s' if size != 1 else ''}", None
    if kind == "string_too_long":
        return f"longer than {ctx.get('max_length')} characters", None
    if kind in _BOUNDS:
        key, word = _BOUNDS[kind]
        return f"must be {word} {ctx.get(key)}, got {describe(value)}", None
    if kind == "value_error":  # a model's own check: its message, without pydantic's prefix
        return str(ctx.get("error", error["msg"])), None
    return error["msg"], None


def _hint_for_unknown(loc: Sequence[str | int]) -> str | None:
    """The field an unknown one probably meant, or the valid ones."""
    return close_match(loc[-1], list(_model_fields_at(loc[:-1])))


def _say(path: Sequence[str | int], message: str) -> str:
    return f"{dotted(path)}: {message}" if path else message


def _emptied_by_its_items(detail: ErrorDetails, details: Sequence[ErrorDetails]) -> bool:
    """A list whose items failed is "too short after validation" to pydantic, though written
    long enough: only the items' own errors are the author's."""
    if detail["type"] != "too_short" or detail.get("ctx", {}).get("actual_length") != 0:
        return False
    loc = tuple(detail["loc"])
    return any(tuple(d["loc"][: len(loc)]) == loc and len(d["loc"]) > len(loc) for d in details)


def problems_of(error: ValidationError, locator: Locator) -> list[Problem]:
    """Every error of a failed `Procedure` validation as a located problem.

    A misspelt field is reported once, as unknown with its likely meaning as hint, not also
    as the missing field it was meant to be.
    """
    details = error.errors(include_url=False)
    typos = {
        (tuple(d["loc"][:-1]), _hint_for_unknown(d["loc"]))
        for d in details
        if d["type"] == "extra_forbidden"
    }
    problems = []
    for detail in details:
        loc = list(detail["loc"])
        meant = f"did you mean `{loc[-1]}`?" if loc else None
        if detail["type"] == "missing" and (tuple(loc[:-1]), meant) in typos:
            continue
        if _emptied_by_its_items(detail, details):
            continue
        on_key = bool(loc) and loc[-1] == "[key]"
        if on_key:
            loc.pop()
        path, _ = follow(loc)
        kind = detail["type"]
        if kind == "missing":
            info = _model_fields_at(loc[:-1]).get(str(loc[-1]))
            hint = info.description if info is not None else None
            message = _say(path[:-1], f"missing required field `{path[-1]}`")
            problems.append(locator.problem(path[:-1], message, hint))
            continue
        if kind == "extra_forbidden":
            hint = _hint_for_unknown(loc)
            message = _say(path[:-1], f"unknown field `{path[-1]}`")
            problems.append(locator.problem(path, message, hint, key=True))
            continue
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            expected = str(detail.get("ctx", {}).get("expected_tags"))
            tags = [tag.strip(" '") for tag in expected.split(",")]
            if kind == "union_tag_not_found":
                problems.append(
                    locator.problem(path, _say(path, "missing `kind`"), close_match("", tags))
                )
            else:
                tag = detail.get("ctx", {}).get("tag")
                problems.append(
                    locator.problem(
                        [*path, "kind"],
                        _say(path, f"unknown step kind `{tag}`"),
                        close_match(tag, tags),
                    )
                )
            continue
        message, hint = _message(detail, path)
        problems.append(locator.problem(path, _say(path, message), hint, key=on_key))
    return problems
