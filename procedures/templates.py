"""jinja2, in one place: the sandboxed environments, their limits, and the static analysis.

Procedures carry jinja2 in three roles: legal forms (templates, autoescaped, rendered by an
activity), automatic steps' arguments (small templates rendered inside the workflow) and
choice conditions (expressions). Each role gets one immutable sandbox here, so what a
procedure may do with jinja2 is decided and reviewed in one module.
"""

from __future__ import annotations

from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

STEP_ARGS = ImmutableSandboxedEnvironment()
"""Automatic steps' arguments: plain text (no autoescape), rendered in the workflow."""


def render_string(source: str, **context: Any) -> str:
    """An automatic step's argument rendered with `context` (in the workflow: no I/O)."""
    return STEP_ARGS.from_string(source).render(**context)
