"""jinja2, in one place: the sandboxed environments, their limits, and the static analysis.

Procedures carry jinja2 in three roles, each with one immutable sandbox here, so what a
procedure may do with jinja2 is decided and reviewed in one module:

- legal forms (`FORMS`): templates rendered by the `render_form` activity, autoescaped (an
  applicant's name such as `<script>` prints as text) and with `StrictUndefined` (a legal form
  with a silently blank field is worse than a failed step);
- automatic steps' arguments (`STEP_ARGS`): small plain-text templates rendered inside the
  workflow (deterministic: no I/O, no clock);
- choice conditions (`EXPRESSIONS`): expressions over `form`, `decisions` and `fields` only,
  where a missing name counts as false. Never `eval`.

The limits: compiled templates and expressions are cached by source text (bounded LRU
caches), and the static analysis (`expression_problem`, `template_problem`, `form_uses`) is what
`procedures.checks` and `motcua validate` use to locate a procedure's mistakes before a dossier
meets them.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any, TypeGuard, TypeVar

from jinja2 import (
    ChainableUndefined,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    nodes,
)
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

FORMS = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
"""Legal forms: autoescaped, and a misspelt variable is an error, not a blank."""
STEP_ARGS = ImmutableSandboxedEnvironment()
"""Automatic steps' arguments: plain text (no autoescape), rendered in the workflow."""
EXPRESSIONS = ImmutableSandboxedEnvironment(undefined=ChainableUndefined)
"""Choice conditions: a missing name or key reads as undefined, and the condition as false."""

NAMES: tuple[str, ...] = ("form", "decisions", "fields")
"""What an expression may read: the dossier's form data, decisions taken, fields filled."""

FormUses = tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]
"""The `form` fields an expression or template reads, and each (field, literal) it compares."""

N = TypeVar("N", bound=nodes.Node)

_COMPARISONS = frozenset({"eq", "ne", "gt", "gteq", "lt", "lteq"})

# ---------------------------------------------------------------------------- forms


@lru_cache(maxsize=256)
def form_template(source: str) -> Template:
    """A form's template, compiled once per text: compiling costs 5-11 ms, rendering far less."""
    return FORMS.from_string(source)


# ---------------------------------------------------------------------------- step arguments


def render_string(source: str, **context: Any) -> str:
    """An automatic step's argument rendered with `context` (in the workflow: no I/O)."""
    return STEP_ARGS.from_string(source).render(**context)


# ---------------------------------------------------------------------------- expressions


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Any:
    return EXPRESSIONS.compile_expression(text, undefined_to_none=True)


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


# ---------------------------------------------------------------------------- static analysis


@lru_cache(maxsize=4096)
def expression_problem(source: str) -> tuple[str, str | None] | None:
    """Why a choice expression cannot be used, with a hint; None when it can (cached)."""
    error = syntax_error(source)
    if error is not None:
        example = "e.g. `form.age < 6 and decisions.receive == 'accept'`"
        return f"expression does not parse: {error}", example
    tree = Parser(EXPRESSIONS, source, state="variable").parse_expression()
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    unknown = sorted(names - set(NAMES) - set(EXPRESSIONS.globals))
    if unknown:
        return (
            f"expression reads unknown name `{unknown[0]}`",
            "expressions see only " + ", ".join(sorted(NAMES)),
        )
    return None


@lru_cache(maxsize=4096)
def template_problem(source: str) -> str | None:
    """Why an automatic step's argument template does not compile; None when it does."""
    try:
        STEP_ARGS.compile(source)
    except TemplateSyntaxError as err:
        return f"template does not parse: {err.message}"
    return None


@lru_cache(maxsize=4096)
def form_uses(source: str, *, template: bool) -> FormUses:
    """What a parsed expression (or template) reads from `form`, from jinja2's syntax tree:
    `form.x`, `form['x']` and `form.get('x')`, with the literals `x` is compared with."""
    if template:
        tree: nodes.Node = STEP_ARGS.parse(source)
    else:
        tree = Parser(EXPRESSIONS, source, state="variable").parse_expression()
    methods = set()
    reads: dict[str, None] = {}
    for call in _nodes(tree, nodes.Call):
        if isinstance(call.node, nodes.Getattr) and _is_form(call.node.node):
            methods.add(id(call.node))  # a dict method such as `get`, not a field
            first = call.args[0] if call.args else None
            if call.node.attr == "get" and _is_text(first):
                reads[str(first.value)] = None
    for node in _nodes(tree, nodes.Getattr, nodes.Getitem):
        field = _field_of(node)
        if field is not None and id(node) not in methods:
            reads[field] = None
    comparisons = []
    for compare in _nodes(tree, nodes.Compare):
        operands = [compare.expr, *(operand.expr for operand in compare.ops)]
        for i, operand in enumerate(compare.ops):
            if operand.op not in _COMPARISONS:
                continue
            for one, other in ((operands[i], operands[i + 1]), (operands[i + 1], operands[i])):
                field = _field_of(one)
                if field is not None and isinstance(other, nodes.Const):
                    comparisons.append((field, other.value))
    return tuple(reads), tuple(comparisons)


def _nodes(tree: nodes.Node, *kinds: type[N]) -> Iterator[N]:
    """The tree's nodes of these kinds, the tree itself included (unlike `find_all`)."""
    if isinstance(tree, kinds):
        yield tree
    yield from tree.find_all(kinds)


def _is_form(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "form" and node.ctx == "load"


def _field_of(node: nodes.Node) -> str | None:
    """`x` when the node reads `form.x` or `form['x']`."""
    if isinstance(node, nodes.Getattr) and _is_form(node.node):
        return node.attr
    if isinstance(node, nodes.Getitem) and _is_form(node.node) and _is_text(node.arg):
        return str(node.arg.value)
    return None


def _is_text(node: nodes.Node | None) -> TypeGuard[nodes.Const]:
    return isinstance(node, nodes.Const) and isinstance(node.value, str)
