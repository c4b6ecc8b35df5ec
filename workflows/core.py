"""The dossier's state and its one owner: what the interpreter and the handlers both read.

`DossierCore` creates every attribute of a running dossier and holds the helpers all parts of
the workflow share (timeline, search attributes, due instants, halting). The walk
(`workflows.dossier`), its deadlines (`workflows.watchers`), its side effects
(`workflows.effects`) and the updates, queries and signal (`workflows.handlers`) are mixins
over it, joined in `DossierWorkflow`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # `import workflows.x as x`, not `from workflows import x`: the sandbox passes a module
    # through only when imported by its full name (otherwise it runs again for every run).
    import workflows.behaviours as behaviours
    import workflows.legacy_v1 as legacy_v1
    import workflows.metrics as metrics
    import workflows.rules as rules
    import workflows.search_attributes as sa
    import workflows.signed as signed
    from procedures.legaltime.calendar import WorkCalendar
    from procedures.legaltime.clock import DossierClock, SuspendReason
    from procedures.models import Agency, FormKind, ResultType
    from procedures.text import RECORDED, escape
    from workflows.api import Actor, DossierInput, TimelineEntry, received_on
    from workflows.logs import log
    from workflows.state import Repetition, Runtime, Task


M = TypeVar("M", bound=BaseModel)


def recorded(model: type[M], raw: tuple[Any, ...]) -> M:
    """An update's input as its history recorded it, read into its model.

    The handlers take their input raw so that a malformed one reaches the validator (which
    refuses and logs it, `DossierCore._take`) instead of failing in payload conversion,
    unlogged. What reaches a handler was validated when it came in; read back from a history,
    the input checks are skipped (`procedures.text.RECORDED`): a limit added later must not
    break the replay of an update accepted before it.
    """
    return model.model_validate(raw[0] if raw else None, context=RECORDED)


def _who(raw: tuple[Any, ...], model: type[BaseModel]) -> str:
    """Who sent a malformed update, when its `actor` at least is well formed."""
    first = raw[0] if raw else None
    if isinstance(first, dict) and "actor" in first:
        try:
            return str(Actor.model_validate(first["actor"]))
        except ValidationError:
            return "unknown"
    return "applicant" if "applicant_id" in model.model_fields else "unknown"


def _why(err: ValidationError) -> str:
    """A malformed input's faults, where and what, never the values (personal data)."""
    faults = err.errors(include_input=False, include_url=False)
    said = [
        ".".join(escape(str(part), 40) for part in fault["loc"]) + f": {fault['msg']}"
        if fault["loc"]
        else fault["msg"]
        for fault in faults[:3]
    ]
    more = f" (and {len(faults) - 3} more)" if len(faults) > 3 else ""
    return "; ".join(said) + more


class Halt:
    """A dossier ended from outside its path: withdrawn, or stopped for want of a supplement."""

    def __init__(self, result: ResultType, reason: str, form: FormKind | None) -> None:
        self.result, self.reason, self.form = result, reason, form


class DossierCore:
    """The state of one running dossier, and the helpers every part of the workflow shares."""

    def __init__(self, inp: DossierInput) -> None:
        self._inp = inp
        self._proc = inp.procedure.procedure
        self._cal: WorkCalendar = inp.calendar
        receiving = self._proc.agencies[self._proc.receiving_agency]
        self._hours = receiving.office_hours(self._cal)
        self._behaviours = behaviours.behaviours(inp.interpreter_version())
        if inp.carried is not None:
            self._rt = Runtime.model_validate(inp.carried)
        else:
            self._rt = Runtime(clock=inp.opening_clock())
        self._halt: Halt | None = None
        self._halt_ends_walk = False
        self._ended = False
        self._epoch = 0
        self._unattended = 0  # steps visited since the last human task or wait (stops_runaway)
        self._waiting: set[str] = set()
        # Citizen steps open now, and those the applicant has acted on (`citizen_steps`); like
        # `_waiting`, never carried: continue-as-new happens only between top-level steps.
        self._awaiting: set[str] = set()
        self._acted: set[str] = set()
        self._published: tuple[sa.Values, sa.Indicators | None, datetime | None] | None = None
        self._flush_queued = False
        # The waits holding the clock (a payment in one branch, a supplement in another); it
        # runs again when the last one ends. Empty at every continue-as-new, which happens
        # only between top-level steps, so it need not be carried.
        self._holds: list[SuspendReason] = []
        # The `repeat` steps' counts, for the state query (`workflows.repeats`); like
        # `_awaiting`, never carried.
        self._repetitions: dict[str, Repetition] = {}

    def _expression_context(self) -> dict[str, Any]:
        """What conditions and amounts read: the form, decisions, officers' values and the
        day of receipt (`procedures.templates.NAMES`)."""
        return {
            "form": self._inp.form,
            "decisions": self._rt.decisions,
            "fields": self._rt.fields,
            "received": received_on(self._received_at()),
            "channel": self._inp.channel.value,
        }

    def _received_at(self) -> datetime:
        """The instant of receipt: the submission's, or the payment's for a dossier paid
        before it was received (`pays_before_receipt`)."""
        return self._rt.received_at or self._inp.received_at

    def _has(self, behaviour: behaviours.Behaviour) -> bool:
        """Whether this dossier's interpreter version has `behaviour` (`workflows.behaviours`)."""
        return behaviour in self._behaviours

    def _halting(self) -> bool:
        return self._halt is not None and self._halt_ends_walk

    def _end(self, halt: Halt) -> None:
        """End the dossier from outside its path (withdrawn, or stopped)."""
        self._halt = halt
        self._halt_ends_walk = self._has("halt_ends_walk") or legacy_v1.halt_ends_walk()

    def _check_halt(self) -> None:
        """Leave the path once the dossier is withdrawn or stopped.

        `run` cancels the walk, but a cancellation that meets an activity completing in the
        same workflow task is absorbed by the activity's handle; the walk then goes on to its
        next wait, and this check ends it there.
        """
        if self._halting():
            raise asyncio.CancelledError("the dossier has ended")

    def _event(
        self,
        kind: str,
        step: str | None = None,
        actor: str | None = None,
        detail: str = "",
        on_time: str | None = None,
    ) -> None:
        self._rt.timeline.append(
            TimelineEntry(
                at=workflow.now(), kind=kind, step=step, actor=actor, detail=detail, on_time=on_time
            )
        )

    def _publish(self) -> None:
        """Upsert the search attributes when they change: codes and instants, no personal data.

        With `coalesced_upserts`, at most once per workflow activation, after every coroutine
        that was ready has run: intermediate values within one workflow task are never visible
        to visibility anyway, and each upsert is one more history event.
        """
        if not self._has("coalesced_upserts"):
            self._sync_attributes()
        elif not self._flush_queued:
            self._flush_queued = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_queued = False
        self._sync_attributes()

    def _sync_attributes(self) -> None:
        """Upsert the search attributes now if they differ from the last upsert."""
        now = workflow.now()
        agency = self._receiving().code
        values = sa.values(self._rt, self._proc, agency, self._ended, now, self._due_of)
        extra = (
            sa.indicators(self._rt, self._cal, now) if self._has("indicator_attributes") else None
        )
        received = None if self._inp.received_at_start() else self._rt.received_at
        if (values, extra, received) == self._published:
            return
        self._published = (values, extra, received)
        updates = sa.updates(self._proc.code, values)
        if extra is not None:
            updates += sa.indicator_updates(extra)
        if received is not None:  # paid before receipt: received now (`received_at_on_receipt`)
            updates.append(sa.RECEIVED_AT.value_set(received))
        if self._has("upserts_changed_only"):
            updates = sa.changed(updates, workflow.info().typed_search_attributes)
        if updates:  # empty only when a continued run holds them all already
            workflow.upsert_search_attributes(updates)

    def _due(self) -> datetime:
        return self._due_of(self._rt.clock)

    def _due_of(self, clock: DossierClock) -> datetime:
        """`clock.due(calendar, now)` (memoised by the clock itself)."""
        return clock.due(self._cal, workflow.now())

    def _receiving(self) -> Agency:
        return self._proc.agencies[self._proc.receiving_agency]

    def _check(self, what: str, actor: str, check: Callable[[], None]) -> None:
        """Run a validator's rule; log a rejection, which Temporal's history will not keep."""
        try:
            rules.check_active(self._rt, self._ended or self._halt is not None)
            check()
        except rules.Rejected as err:
            log("update_rejected", dossier=self._inp.code, who=actor, what=what, why=str(err))
            metrics.update_rejected(what.split()[0], str(err))
            raise

    def _check_officer(
        self,
        what: str,
        actor: Actor,
        assertion: str | None,
        step: str | None,
        check: Callable[[], None],
    ) -> None:
        """`_check` for an officer's update: with `signed_officers`, the assertion is verified
        (against workflow time, `workflows.signed`) before the task's rules are asked."""

        def signed_then() -> None:
            delegation = self._has("acting_for")
            if actor.acting_for is not None and not delegation:
                raise rules.Rejected("this dossier's interpreter has no acting for another officer")
            if self._has("signed_officers"):
                now = workflow.now()
                signed.check_officer(
                    assertion,
                    actor,
                    dossier=self._inp.code,
                    step=step,
                    now=now,
                    delegation=delegation,
                )
            check()

        self._check(what, str(actor), signed_then)

    def _take(self, model: type[M], raw: tuple[Any, ...], update: str) -> M:
        """An update's input read into its model in the validator: a malformed one (extra or
        missing fields, wrong types, `null`, too long, control characters) is refused and
        logged like any other rejection, with who sent it when that much is readable."""
        if len(raw) != 1:
            self._refuse(update, _who(raw, model), f"expected one input, got {len(raw)}")
        try:
            return model.model_validate(raw[0])
        except ValidationError as err:
            self._refuse(update, _who(raw, model), "malformed input: " + _why(err))

    def _refuse(self, what: str, who: str, why: str) -> NoReturn:
        """Log a refused update for the auditors (history will not keep it) and refuse it."""
        log("update_rejected", dossier=self._inp.code, who=who, what=escape(what, 64), why=why)
        metrics.update_rejected(escape(what, 64), why)
        raise rules.Rejected(why)

    async def _opened(self, step: str) -> Task:
        """The open task of `step`, once the walk has opened it.

        The validator saw it open, but on replay the SDK may run the handler before the
        activity result that opened it (when both fell into one workflow task, as after a
        worker crash), so the handler waits for the walk to catch up instead of asserting.
        """
        await workflow.wait_condition(lambda: self._rt.open_task(step) is not None)
        task = self._rt.open_task(step)
        assert task is not None
        return task
