"""Values given for declared fields: one check for officers' task fields and applicants' forms.

The `complete` update's validator (`workflows.rules`) and `motcua submit` both judge values by
`faults`, so a field declared `integer` means the same to an officer and to an applicant. Pure
functions of the declaration and the JSON values: no Temporal, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from procedures.messages import close_match
from procedures.models import FieldType, FormField

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Fault(StrEnum):
    """What is wrong with one field's value."""

    UNKNOWN = "unknown"
    REQUIRED = "required"
    MISTYPED = "mistyped"
    TOO_LONG = "too_long"


def faults(declared: Mapping[str, FormField], given: Mapping[str, Any]) -> list[tuple[str, Fault]]:
    """Every undeclared name, missing required field and mistyped value: undeclared names
    first, then in the declaration's order. `null` and `""` count as not given."""
    found = [(name, Fault.UNKNOWN) for name in given if name not in declared]
    for name, spec in declared.items():
        value = given.get(name)
        if value is None or value == "":
            if spec.required:
                found.append((name, Fault.REQUIRED))
        elif not fits(spec, value):
            found.append((name, Fault.MISTYPED))
        elif isinstance(value, str) and len(value) > spec.longest():
            found.append((name, Fault.TOO_LONG))
    return found


def fits(spec: FormField, value: Any) -> bool:
    """Whether a JSON value has the field's type (a `date` is a `YYYY-MM-DD` string)."""
    match spec.type:
        case FieldType.STRING:
            return isinstance(value, str)
        case FieldType.INTEGER:
            return isinstance(value, int) and not isinstance(value, bool)
        case FieldType.NUMBER:
            return isinstance(value, int | float) and not isinstance(value, bool)
        case FieldType.BOOLEAN:
            return isinstance(value, bool)
        case FieldType.DATE:
            return isinstance(value, str) and _is_date(value)
        case FieldType.CHOICE:
            return value in spec.choices
    return False


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


_EXPECTED = {
    FieldType.STRING: "a string",
    FieldType.INTEGER: "an integer",
    FieldType.NUMBER: "a number",
    FieldType.BOOLEAN: "true or false",
    FieldType.DATE: "a date YYYY-MM-DD",
}


def application_problems(declared: Mapping[str, FormField], form: Mapping[str, Any]) -> list[str]:
    """What is wrong with an applicant's form data, one `field: problem` each; [] when none.

    The values are never repeated, only their JSON kind: they are personal data, and the
    message may be logged by whoever submits.
    """
    problems = []
    for name, fault in faults(declared, form):
        if fault is Fault.UNKNOWN:
            hint = close_match(name, list(declared))
            problems.append(f"{name}: not a declared field" + (f" ({hint})" if hint else ""))
        elif fault is Fault.REQUIRED:
            problems.append(f"{name}: required")
        elif fault is Fault.TOO_LONG:
            problems.append(f"{name}: at most {declared[name].longest()} characters")
        else:
            problems.append(f"{name}: {_mistyped(declared[name], form[name])}")
    return problems


def _mistyped(spec: FormField, value: Any) -> str:
    if spec.type is FieldType.CHOICE:
        return "expected one of: " + ", ".join(spec.choices)
    expected = _EXPECTED[spec.type]
    if spec.type is FieldType.DATE and isinstance(value, str):
        return f"expected {expected}, got a string that is not one"
    return f"expected {expected}, got {_kind(value)}"


def _kind(value: Any) -> str:
    """A JSON value's kind, as the person who wrote the JSON calls it."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
