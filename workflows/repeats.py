"""Steps repeated a counted number of times (`repeats_steps`, interpreter 6).

A `repeat` step asks the applicant for a report once per period (the monthly job-search report
of an unemployment benefit), `times` periods in a row. Period k runs from `every`×(k−1) to
`every`×k after the step opens (the receiving agency's hours and calendar); a report in it
(`citizen_act` at the step, or its `event`) counts and ends the wait for that period, none by
its end is a miss. `end_after_missed` misses in a row leave the step at `on_missed`; otherwise
it goes to `next` once its last period is reported or has ended. Each period is in the
timeline (`citizen_waiting` "report 4 of 6: …", then `arrived` or `timed_out` "report 4 of 6
(missed, 2 in a row)") and in the state query
(`RepetitionView`: "report 4 of 6", "missed 2 in a row"). `times` is at most
`procedures.models.MAX_TIMES`, so the step ends within a bounded number of periods.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.watchers import HOLD_STATUS, DossierWatchers

with workflow.unsafe.imports_passed_through():
    from procedures.legaltime.calendar import TimeLimit
    from procedures.legaltime.clock import deadline
    from procedures.models import MAX_TIMES, RepeatStep
    from procedures.templates import Refused, amount_of
    from workflows.forms import local
    from workflows.state import Repetition


class DossierRepeats(DossierWatchers):
    """The `repeat` step, over the dossier's state."""

    def _times(self, step_id: str, step: RepeatStep) -> int:
        """How many periods: the number written, or the expression's value now; `Refused`
        (the dossier stops, located) when it gives no whole number from 1 to MAX_TIMES."""
        if isinstance(step.times, int):
            return step.times
        where = f"steps.{step_id}.times"
        try:
            found = amount_of(step.times, self._expression_context())
        except Refused as err:
            raise Refused(f"{where}: {err}") from None
        if found is None or not 1 <= found <= MAX_TIMES:
            raise Refused(
                f"{where}: `{step.times}` gives {found if found is not None else 'no number'}, "
                f"not a whole number from 1 to {MAX_TIMES}"
            )
        return found

    def _period_end(self, opened: datetime, every: TimeLimit, k: int) -> datetime:
        """The end of period `k` (1-based) of a repeat step opened at `opened`."""
        span = TimeLimit(amount=every.amount * k, unit=every.unit)
        return deadline(self._cal, opened, span, self._hours)

    async def _repeat(self, step_id: str, step: RepeatStep) -> str:
        """Count the applicant's reports, period by period; the next step's id."""
        if not self._has("repeats_steps"):
            raise ApplicationError(
                f"step {step_id!r} is a repeat step, which interpreter "
                f"{self._inp.interpreter_version()} does not run",
                non_retryable=True,
            )
        times = self._times(step_id, step)
        title = step.title or step_id
        run = Repetition(step=step_id, title=title, times=times)
        self._repetitions[step_id] = run
        opened = workflow.now()
        self._event("repeating", step_id, detail=f"{times} periods")
        reason = step.suspension
        if reason is not None:
            self._suspend(reason)
            await self._set_status(HOLD_STATUS[reason], title)
        following = step.next
        try:
            for k in range(1, times + 1):
                starts = opened if k == 1 else self._period_end(opened, step.every, k - 1)
                run.opens_at = starts
                await self._until(lambda: False, run.opening, f"report {k} opens")
                if await self._period(step_id, step, run, k, opened):
                    continue
                if step.end_after_missed and run.missed_in_row >= step.end_after_missed:
                    self._event(
                        "repeat_ended",
                        step_id,
                        detail=f"{run.missed_in_row} missed in a row, after report {k} of {times}",
                    )
                    following = step.on_missed or step.next
                    break
        finally:
            run.awaiting, run.opens_at, run.finished = False, None, True
        if reason is not None:
            status = self._resume(reason)
            await self._set_status(status, "Tiếp tục xử lý")
        return following

    async def _period(
        self, step_id: str, step: RepeatStep, run: Repetition, k: int, opened: datetime
    ) -> bool:
        """One period: the applicant told, then their report (True) or a miss (False)."""
        ends = self._period_end(opened, step.every, k)
        run.number, run.due_at, run.opens_at, run.awaiting = k, ends, None, True
        said = f"report {k} of {run.times}"
        self._awaiting.add(step_id)
        if step.event is not None:
            self._waiting.add(step.event)
            self._rt.events.pop(step.event, None)
        self._event("citizen_waiting", step_id, detail=f"{said}: {run.title}; hạn {local(ends)}")
        self._publish()
        await self._notify(
            f"Hồ sơ {self._inp.code}: thông báo định kỳ lần {k}/{run.times}",
            f"{run.title}. Hạn thực hiện: {local(ends)}.",
        )

        def reported() -> bool:
            return step_id in self._acted or (
                step.event is not None and step.event in self._rt.events
            )

        try:
            done = await self._until(reported, lambda: ends, f"report {k} due")
        finally:
            self._awaiting.discard(step_id)
            self._acted.discard(step_id)
            if step.event is not None:
                self._waiting.discard(step.event)
            run.awaiting = False
        if done:
            run.reported += 1
            run.missed_in_row = 0
            self._event("arrived", step_id, detail=said)
        else:
            run.missed += 1
            run.missed_in_row += 1
            self._event(
                "timed_out", step_id, detail=f"{said} (missed, {run.missed_in_row} in a row)"
            )
        self._publish()
        return done
