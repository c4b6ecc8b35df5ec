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

import functools
import re
from collections.abc import Iterator
from datetime import date
from functools import lru_cache
from typing import Any, TypeGuard, TypeVar

from jinja2 import (
    BaseLoader,
    ChainableUndefined,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    nodes,
    pass_context,
)
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_OUTPUT = 200_000
"""Characters one rendering may produce, and any string or list an operator, filter or call
builds on the way: a legal form is a few kilobytes, an argument a line."""
MAX_RANGE = 10_000
"""Items all the `range()` calls of one rendering may yield together."""
MAX_LOOP_DEPTH = 2
"""`for` loops nested deeper than this are refused by validation: their cost multiplies."""
MAX_POWER = 10**12
"""The largest number `**` may produce."""


class Refused(SecurityError):
    """A template or expression went over a budget, or reached for something unsafe: a prompt
    failure instead of a dossier stuck in a loop or a worker at a gigabyte."""


class _NoTemplates(BaseLoader):
    """Refuses every `include`, `import`, `extends` and `from` at run time too: a template is
    one self-contained text frozen in the dossier, never a path on the worker's disk."""

    def get_source(self, environment: Any, template: str) -> Any:
        raise TemplateNotFound(f"{template} (templates may not load other templates)")


class _Budgeted(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox with budgets: operators, filters and calls may not build
    values larger than `MAX_OUTPUT`, `range` shares `MAX_RANGE` items per rendering, and the
    globals are only `range` and `dict` (no `lipsum`, `cycler`, `joiner`, `namespace`)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(loader=_NoTemplates(), **options)
        self.globals = {
            "range": _range,
            "dict": dict,
            "days_between": days_between,
            "months_between": months_between,
        }
        self.filters = {name: _bounded(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for one, other in ((left, right), (right, left)):
                if isinstance(one, str | list | tuple) and isinstance(other, int):
                    _check_size(len(one) * max(other, 0), "repetition")
        elif operator == "**" and _too_powerful(left, right):
            raise Refused(f"`**` result larger than {MAX_POWER:.0e}")
        elif operator == "%" and isinstance(left, str) and _WIDTH.search(left):
            raise Refused(f"format width over {MAX_OUTPUT} characters")
        elif operator == "%" and isinstance(left, str) and "*" in left:  # '%*d' % (width, 1)
            _check_size(_largest_int(right if isinstance(right, tuple) else (right,)), "a value")
        return _checked(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, str) and attribute.startswith("format") and _WIDTH.search(obj):
            raise Refused(f"format width over {MAX_OUTPUT} characters")
        return super().getattr(obj, attribute)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            if __obj.__name__ == "join" and args:  # a generator is measured as the list it is
                args = (_listed(args[0]), *args[1:])
            _check_size(_method_size(owner, __obj.__name__, args, kwargs), "a value")
        return _checked(super().call(__context, __obj, *args, **kwargs))


_WIDTH = re.compile(r"[{%][^{}%]*?[0-9]{7,}")
"""A format specification with a width of a million or more (`'{:>99999999}'`)."""

_SIZE_FILTERS = frozenset({"center", "indent", "wordwrap", "batch", "slice"})
"""Filters whose number arguments are sizes of what they build."""


def _too_powerful(left: Any, right: Any) -> bool:
    """Whether `left ** right` may pass `MAX_POWER` (judged by digits, without computing it)."""
    if not (isinstance(left, int | float) and isinstance(right, int | float)):
        return False
    digits = len(str(int(abs(left))))
    return abs(right) > 64 or (abs(left) > 1 and abs(right) * digits > len(str(MAX_POWER)))


def _method_size(text: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The length a string method's result will have, for the methods whose result can be far
    larger than their inputs (0 for the others): refused before it is built, not after a
    gigabyte (`'x' * 100000).join('y' * 100000)` asked for 10 GB)."""
    if method in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        return max(len(text), args[0])
    if method == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        old, new = args[0], args[1]
        found = text.count(old) if old else len(text) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            found = min(found, args[2])
        return len(text) + found * (len(new) - len(old))
    if method == "join" and args:
        return _joined_size(args[0], text)
    if method == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        return _expanded_size(text, size) if isinstance(size, int) else 0
    if method in ("format", "format_map") and _NESTED_WIDTH.search(text):
        values = (
            *args,
            *kwargs.values(),
            *(v for a in args if isinstance(a, dict) for v in a.values()),
        )
        return _largest_int(values)
    return 0


_NESTED_WIDTH = re.compile(r"\{[^{}]*:[^{}]*\{")
"""A replacement field whose format spec takes its width from an argument (`'{0:{1}}'`)."""


def _listed(items: Any) -> Any:
    """An iterator as a list (jinja2's `map`, `select`... yield lazily), anything else as is."""
    if isinstance(items, str | list | tuple | dict) or not hasattr(items, "__iter__"):
        return items
    return list(items)


def _largest_int(values: Any) -> int:
    return max((v for v in values if isinstance(v, int) and not isinstance(v, bool)), default=0)


def _joined_size(items: Any, separator: Any) -> int:
    """The length of `separator.join(items)` (items as `str` makes them), 0 if not knowable."""
    if not isinstance(items, str | list | tuple) or not isinstance(separator, str):
        return 0
    parts = [len(i) if isinstance(i, str) else len(str(i)) for i in items]
    return sum(parts) + len(separator) * max(len(parts) - 1, 0)


def _expanded_size(text: str, tabsize: int) -> int:
    """The length of `text.expandtabs(tabsize)`, counted column by column (never built)."""
    total = column = 0
    for char in text:
        if char == "\t":
            step = tabsize - column % tabsize if tabsize > 0 else 0
            total, column = total + step, column + step
        elif char in "\n\r":
            total, column = total + 1, 0
        else:
            total, column = total + 1, column + 1
    return total


def _check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT:
        raise Refused(f"{what} of {size} items, more than the {MAX_OUTPUT} allowed")


def _checked(value: Any) -> Any:
    if isinstance(value, str | list | tuple | bytes):
        _check_size(len(value), "a value")
    return value


def _bounded(name: str, function: Any) -> Any:
    """A filter whose arguments and result are held to the budgets."""
    sizes = name in _SIZE_FILTERS

    @functools.wraps(function)  # keeps jinja2's pass_context/pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if sizes:
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and value > MAX_OUTPUT:
                    raise Refused(f"`{name}` size {value} over {MAX_OUTPUT}")
        if name == "format" and any(isinstance(a, str) and _WIDTH.search(a) for a in args[:1]):
            raise Refused(f"format width over {MAX_OUTPUT} characters")
        if name == "replace" and len(args) >= 4 and isinstance(args[1], str):
            _check_size(_method_size(args[1], "replace", args[2:], {}), "a value")
        if name == "join" and len(args) >= 2 and "attribute" not in kwargs:
            args = (args[0], _listed(args[1]), *args[2:])  # (eval_ctx, value, d="")
            separator = args[2] if len(args) > 2 else kwargs.get("d", "")
            _check_size(_joined_size(args[1], separator), "a value")
        return _checked(function(*args, **kwargs))

    return bounded


class _Spent:
    """What one rendering has used of `MAX_RANGE` (kept on its jinja2 context)."""

    def __init__(self) -> None:
        self.items = 0


def _day(value: Any) -> date:
    """A `date` field's value (`YYYY-MM-DD`) or a date as a date; ValueError otherwise."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a date: {type(value).__name__}")
    return date.fromisoformat(value)


def days_between(start: Any, end: Any) -> int:
    """Calendar days from `start` to `end` (dates as `YYYY-MM-DD`), negative when `end` is
    earlier: `days_between(form.contract_signed_on, received) <= 30`."""
    return (_day(end) - _day(start)).days


def months_between(start: Any, end: Any) -> int:
    """Whole months from `start` to `end` (the day of the month counts: 31/01 to 28/02 is 0):
    `months_between(form.contract_end, received) < 3`, filed within 3 months."""
    a, b = _day(start), _day(end)
    months = (b.year - a.year) * 12 + b.month - a.month
    if months > 0 and b.day < a.day:
        months -= 1
    elif months < 0 and b.day > a.day:
        months += 1
    return months


@pass_context
def _range(context: Context, *args: int) -> range:
    """`range`, sharing `MAX_RANGE` items among all the calls of one rendering."""
    found = range(*args)
    spent: _Spent = context.__dict__.setdefault("_motcua_spent", _Spent())
    spent.items += len(found)
    if spent.items > MAX_RANGE:
        raise Refused(f"range() over {MAX_RANGE} items in one rendering")
    return found


FORMS = _Budgeted(autoescape=True, undefined=StrictUndefined)
"""Legal forms: autoescaped, and a misspelt variable is an error, not a blank."""
STEP_ARGS = _Budgeted()
"""Automatic steps' arguments: plain text (no autoescape), rendered in the workflow."""
STEP_ARGS_LENIENT = _Budgeted(undefined=ChainableUndefined)
"""The same, where a value not there (a step not taken, a field left empty:
`fields.assess_tax.notice_number` before the tax office decided) prints as nothing; names and
references are checked by `validate` instead (`names_read`). Dossiers whose interpreter reads
`fields` in templates (`templates_read_fields`) use it."""
EXPRESSIONS = _Budgeted(undefined=ChainableUndefined)
"""Choice conditions: a missing name or key reads as undefined, and the condition as false."""

NAMES: tuple[str, ...] = ("form", "decisions", "fields", "received", "channel")
"""What an expression may read: the dossier's form data, decisions taken, fields filled, the
day it was received (`YYYY-MM-DD`, local time) and the channel it came by."""

FormUses = tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]
"""The `form` fields an expression or template reads, and each (field, literal) it compares."""

N = TypeVar("N", bound=nodes.Node)

_COMPARISONS = frozenset({"eq", "ne", "gt", "gteq", "lt", "lteq"})

# ---------------------------------------------------------------------------- forms


@lru_cache(maxsize=256)
def form_template(source: str) -> Template:
    """A form's template, compiled once per text: compiling costs 5-11 ms, rendering far less."""
    return FORMS.from_string(source)


def render_form(source: str, context: dict[str, Any]) -> str:
    """A legal form rendered within `MAX_OUTPUT` characters (`Refused` past it)."""
    return _bounded_output(form_template(source), context)


def _bounded_output(template: Template, context: dict[str, Any]) -> str:
    """The rendering, stopped as soon as it passes `MAX_OUTPUT` characters."""
    parts, size = [], 0
    for part in template.generate(context):
        size += len(part)
        if size > MAX_OUTPUT:
            raise Refused(f"output over {MAX_OUTPUT} characters")
        parts.append(part)
    return "".join(parts)


# ---------------------------------------------------------------------------- step arguments


def render_string(source: str, lenient: bool = False, **context: Any) -> str:
    """An automatic step's argument rendered with `context` (in the workflow: no I/O), within
    the budgets (`Refused` past one); with `lenient`, a missing value prints as nothing
    (`STEP_ARGS_LENIENT`)."""
    env = STEP_ARGS_LENIENT if lenient else STEP_ARGS
    return _bounded_output(env.from_string(source), context)


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
    counts as false: a dossier must never stall on data an applicant left out. Going over a
    budget or reaching for something unsafe is not a missing value: it raises `Refused`.
    """
    try:
        return bool(_compiled(text)(**context))
    except Refused:
        raise
    except (TemplateError, TypeError, ValueError, ArithmeticError):
        return False


def amount_of(text: str, context: dict[str, Any]) -> int | None:
    """An amount of money (whole VND, ≥ 0) an expression gives, e.g. an officer's field or
    `form.area_m2 * 15000`; None when it gives no such number (a value not entered yet, an
    error). Going over a budget raises `Refused`, as for `evaluate`."""
    try:
        value = _compiled(text)(**context)
    except Refused:
        raise
    except (TemplateError, TypeError, ValueError, ArithmeticError):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    if isinstance(value, float) and not value.is_integer():
        return round(value)
    return int(value)


# ---------------------------------------------------------------------------- static analysis


@lru_cache(maxsize=4096)
def expression_problem(source: str) -> tuple[str, str | None] | None:
    """Why a choice expression cannot be used, with a hint; None when it can (cached)."""
    error = syntax_error(source)
    if error is not None:
        example = "e.g. `form.age < 6 and decisions.receive == 'accept'`"
        return f"expression does not parse: {error}", example
    tree = Parser(EXPRESSIONS, source, state="variable").parse_expression()
    unsafe = unsafe_use(tree, NAMES)
    if unsafe is None:
        return None
    if unsafe[1].startswith("reads"):
        return f"expression {unsafe[1]}", "expressions see only " + ", ".join(sorted(NAMES))
    return unsafe[1], None


STEP_NAMES: tuple[str, ...] = ("form", "decisions", "code", "fields", "received", "channel")
"""What an automatic step's argument template (or an end step's reason) may read
(`workflows.effects`): `fields`, the officers' values, since interpreter 5; `received` (the day
of receipt, `YYYY-MM-DD`) and `channel`, since interpreter 6."""


@lru_cache(maxsize=4096)
def template_problem(source: str) -> str | None:
    """Why an automatic step's argument template cannot be used; None when it can."""
    try:
        tree = STEP_ARGS.parse(source)
    except TemplateSyntaxError as err:
        return f"template does not parse: {err.message}"
    unsafe = unsafe_use(tree, STEP_NAMES)
    if unsafe is not None and unsafe[1].startswith("reads"):
        return f"template {unsafe[1]} (it may read {', '.join(STEP_NAMES)})"
    return None if unsafe is None else unsafe[1]


def unsafe_use(tree: nodes.Node, names: tuple[str, ...] | None) -> tuple[int, str] | None:
    """The first thing in a parsed template or expression that the budgets or the sandbox
    would refuse at run time, with its line: loading another template, an `_` attribute,
    a name it cannot read (when `names` lists what it may), a recursive macro, loops nested
    deeper than `MAX_LOOP_DEPTH`, or a repetition, power, range or size visibly too large."""
    for loading in _nodes(tree, nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends):
        kind = type(loading).__name__
        word = {"FromImport": "from"}.get(kind, kind.lower())
        return loading.lineno, f"`{{% {word} %}}` is not allowed: a template stands alone"
    for access in _nodes(tree, nodes.Getattr, nodes.Getitem):
        attr = access.attr if isinstance(access, nodes.Getattr) else None
        if isinstance(access, nodes.Getitem) and _is_text(access.arg):
            attr = str(access.arg.value)
        if attr is not None and attr.startswith("_"):
            return access.lineno, f"attribute `{attr}` is not allowed (nothing starting with `_`)"
    if names is not None:
        known = {*names, *EXPRESSIONS.globals, "loop", "caller", "varargs", "kwargs"}
        known |= {n.name for n in _nodes(tree, nodes.Name) if n.ctx in ("store", "param")}
        known |= {m.name for m in _nodes(tree, nodes.Macro)}
        for name in _nodes(tree, nodes.Name):
            if name.ctx == "load" and name.name not in known:
                return name.lineno, f"reads unknown name `{name.name}`"
    elif (found := _banned_global(tree)) is not None:
        return found
    for macro in _nodes(tree, nodes.Macro):
        for call in _nodes(macro, nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in _macro_names(tree):
                return call.lineno, f"macro `{macro.name}` calls a macro: no recursion"
    deep = _deep_loop(tree, 0)
    if deep is not None:
        return deep.lineno, f"`for` loops nested more than {MAX_LOOP_DEPTH} deep"
    return _too_large(tree)


_REMOVED_GLOBALS = frozenset({"lipsum", "cycler", "joiner", "namespace"})


def _banned_global(tree: nodes.Node) -> tuple[int, str] | None:
    for name in _nodes(tree, nodes.Name):
        if name.ctx == "load" and name.name in _REMOVED_GLOBALS:
            return name.lineno, f"`{name.name}` is not available in procedures"
    return None


def _macro_names(tree: nodes.Node) -> set[str]:
    return {m.name for m in _nodes(tree, nodes.Macro)}


def _deep_loop(node: nodes.Node, depth: int) -> nodes.Node | None:
    if isinstance(node, nodes.For):
        depth += 1
        if depth > MAX_LOOP_DEPTH:
            return node
    for child in node.iter_child_nodes():
        found = _deep_loop(child, depth)
        if found is not None:
            return found
    return None


def _too_large(tree: nodes.Node) -> tuple[int, str] | None:
    """Constants that make a value over the budgets, seen without running anything."""
    for op in _nodes(tree, nodes.Mul, nodes.Pow):
        left, right = op.left, op.right
        if not (isinstance(left, nodes.Const) and isinstance(right, nodes.Const)):
            continue
        try:
            size = _size_of(op, left.value, right.value)
        except TypeError:
            continue
        if size > MAX_OUTPUT:
            return op.lineno, f"`{op.operator}` makes a value over the budget ({MAX_OUTPUT})"
    for call in _nodes(tree, nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "range":
            ints = [a.value for a in call.args if isinstance(a, nodes.Const)]
            if ints and all(isinstance(i, int) for i in ints) and len(range(*ints)) > MAX_RANGE:
                return call.lineno, f"range() over {MAX_RANGE} items"
    for flt in _nodes(tree, nodes.Filter):
        if flt.name in _SIZE_FILTERS:
            for arg in (*flt.args, *(kw.value for kw in flt.kwargs)):
                value = arg.value if isinstance(arg, nodes.Const) else None
                if isinstance(value, int) and value > MAX_OUTPUT:
                    return flt.lineno, f"`{flt.name}` size {value} over {MAX_OUTPUT}"
    return None


def _size_of(op: nodes.BinExpr, left: Any, right: Any) -> int:
    if isinstance(op, nodes.Pow):
        return MAX_OUTPUT + 1 if _too_powerful(left, right) else 0
    for one, other in ((left, right), (right, left)):
        if isinstance(one, str | list | tuple) and isinstance(other, int):
            return len(one) * other
    return 0


def form_problem(source: str) -> tuple[int, str] | None:
    """Why a legal form's template cannot be used, with its line; None when it can."""
    try:
        tree = FORMS.parse(source)
    except TemplateSyntaxError as err:
        return err.lineno, f"template syntax error: {err.message}"
    return unsafe_use(tree, None)


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


# ---------------------------------------------------------------------------- names read

FieldRef = tuple[str, str | None]
"""A `fields.STEP.FIELD` read: the step, and the field (None when only `fields.STEP` is read)."""


@lru_cache(maxsize=4096)
def names_read(source: str, *, template: bool) -> tuple[tuple[str, ...], tuple[FieldRef, ...]]:
    """The top-level names an expression (or template) reads, other than its own variables
    (`{% set %}`, loop variables) and jinja2's globals, and each `fields.STEP.FIELD` it reads."""
    if template:
        tree: nodes.Node = STEP_ARGS.parse(source)
        env = STEP_ARGS
    else:
        tree = Parser(EXPRESSIONS, source, state="variable").parse_expression()
        env = EXPRESSIONS
    stored = {n.name for n in _nodes(tree, nodes.Name) if n.ctx in ("store", "param")}
    loaded = {n.name for n in _nodes(tree, nodes.Name) if n.ctx == "load"}
    names = tuple(sorted(loaded - stored - set(env.globals)))
    refs: dict[FieldRef, None] = {}
    for node in _nodes(tree, nodes.Getattr, nodes.Getitem):
        step = _key_of(node, _is_fields)
        if step is not None:
            refs.setdefault((step, None), None)
            continue
        outer = _key_of(getattr(node, "node", None), _is_fields)  # `fields.STEP.<this>`
        field = _key_of(node, lambda _: True) if outer is not None else None
        if outer is not None and field is not None:
            refs[(outer, field)] = None
    whole = {step for step, field in refs if field is not None}
    return names, tuple(ref for ref in refs if ref[1] is not None or ref[0] not in whole)


def _is_fields(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "fields" and node.ctx == "load"


def _key_of(node: nodes.Node | None, owner: Any) -> str | None:
    """`x` when the node reads `.x` or `['x']` of a node `owner` accepts."""
    if isinstance(node, nodes.Getattr) and owner(node.node):
        return node.attr
    if isinstance(node, nodes.Getitem) and owner(node.node) and _is_text(node.arg):
        return str(node.arg.value)
    return None


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
