"""`DossierWorkflow` declares to Temporal exactly what `DossierInterpreter` handles.

The workflow class is kept thin, since the sandbox inspects it at every run's import
(bench/replay.py --compare); a handler added to the interpreter but not declared there would
answer officers "no update named ..." instead of acting, and one declared sync for an async
handler (or the reverse) would change the commands a dossier emits.
"""

from __future__ import annotations

import inspect

from temporalio.workflow import _Definition

from workflows.dossier import DossierInterpreter, DossierWorkflow
from workflows.handlers import DossierHandlers

HANDLERS = sorted(
    name
    for name, member in vars(DossierHandlers).items()
    if inspect.isfunction(member) and not name.startswith(("_", "validate_"))
)


def test_every_handler_of_the_interpreter_is_declared_alike() -> None:
    defn = _Definition.must_from_class(DossierWorkflow)
    updates = {u.fn.__name__: u for u in defn.updates.values()}
    declared = {
        **updates,
        **{q.fn.__name__: q for q in defn.queries.values()},
        **{s.fn.__name__: s for s in defn.signals.values()},
    }
    assert sorted(declared) == HANDLERS
    for name in HANDLERS:
        thin, real = getattr(DossierWorkflow, name), getattr(DossierInterpreter, name)
        assert inspect.iscoroutinefunction(thin) == inspect.iscoroutinefunction(real), name
        if name in updates:
            has_validator = hasattr(DossierInterpreter, f"validate_{name}")
            assert (updates[name].validator is not None) == has_validator, name


def test_the_workflow_class_holds_the_handlers_alone() -> None:
    members = {name for name in vars(DossierWorkflow) if not name.startswith("__")}
    validators = {f"_validate_{n}" for n in HANDLERS if hasattr(DossierHandlers, f"validate_{n}")}
    assert members == {"run", *HANDLERS, *validators}
