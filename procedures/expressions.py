"""Conditions of `choice` steps: jinja2 expressions, compiled and run only in its sandbox.

An expression sees `form` (the dossier's form data), `decisions` (step -> decision taken) and
`fields` (step -> fields the officer filled in). Never `eval`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(undefined=ChainableUndefined)

NAMES: tuple[str, ...] = ("form", "decisions", "fields")
"""What an expression may read: the dossier's form data, decisions taken, fields filled."""


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Any:
    return _ENV.compile_expression(text, undefined_to_none=True)


def syntax_error(text: str) -> str | None:
    """Why the expression does not parse, or None when it does."""
    try:
        _compiled(text)
    except TemplateSyntaxError as err:
        return err.message or str(err)
    return None


def evaluate(text: str, context: dict[str, Any]) -> bool:
    """The truth of an expression in the sandbox.

    A missing name or key, or a comparison with one (`form.floors > 7` without `floors`),
    counts as false: a dossier must never stall on data an applicant left out.
    """
    try:
        return bool(_compiled(text)(**context))
    except (TemplateError, TypeError, ValueError, ArithmeticError):
        return False
