"""Declared fields (a step's `fields`, a procedure's `application`) to and from HTML forms.

Values arrive as text; each is converted to its declared JSON type where it reads as one and
passed on as text otherwise, so the judge stays the one check of `procedures.fields` (for
applicants) or the workflow's validator (for officers), whose messages are shown by the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from procedures.models import FieldType, FormField

MAX_VALUE = 2000
_FIELD_MESSAGE = re.compile(r"^(?:field '(?P<a>[A-Za-z0-9_]+)'|(?P<b>[A-Za-z0-9_]+):) ?(?P<m>.*)$")


def from_form(declared: Mapping[str, FormField], raw: Mapping[str, str], prefix: str) -> dict:
    """The declared fields' values from `prefix + name` form entries; blanks left out."""
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        # A text area posts its line breaks as CR LF (HTML); forms keep only the new line.
        text = raw.get(prefix + name, "").replace("\r\n", "\n").strip()[:MAX_VALUE]
        if text == "":
            continue
        values[name] = convert(spec, text)
    return values


def convert(spec: FormField, text: str) -> Any:
    match spec.type:
        case FieldType.INTEGER:
            return int(text) if re.fullmatch(r"-?\d{1,18}", text) else text
        case FieldType.NUMBER:
            try:
                return float(text.replace(",", "."))
            except ValueError:
                return text
        case FieldType.BOOLEAN:
            return {"true": True, "false": False}.get(text, text)
    return text


def by_field(message: str, declared: Mapping[str, FormField]) -> tuple[dict[str, str], list[str]]:
    """Split a validator's `a; b` message into per-field messages and the rest."""
    per_field: dict[str, str] = {}
    rest: list[str] = []
    for part in message.split("; "):
        found = _FIELD_MESSAGE.match(part.strip())
        name = (found.group("a") or found.group("b") or "") if found else ""
        if name in declared:
            per_field[name] = part.strip()
        else:
            rest.append(part)
    return per_field, rest
