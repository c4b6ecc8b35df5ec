"""The dossier's deadlines: the clock's holds, waits with a moving deadline, the escalation
ladder of each task, and the dossier's own timer (apology instant, due instant).

Every deadline is derived again from the clock whenever it changes (`_epoch`), so a
suspension, an extension or a newer calendar moves the timers as it moves the due instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow

from workflows.effects import DossierEffects

with workflow.unsafe.imports_passed_through():
    # full name: passed through, not imported again for every run (see workflows/core.py)
    import workflows.metrics as metrics
    import workflows.officers as officers
    from procedures.legaltime.clock import SuspendReason
    from procedures.legaltime.deadlines import instant_before_due, share_instant
    from procedures.models import FormKind, TaskStep
    from workflows.api import APOLOGY_DUE, DOSSIER_DUE, PortalStatus, TaskStatus
    from workflows.forms import local
    from workflows.logs import log
    from workflows.state import Apology, Task

HOLD_STATUS = {
    SuspendReason.SUPPLEMENT: PortalStatus.SUPPLEMENT_REQUESTED,
    SuspendReason.FINANCIAL_OBLIGATION: PortalStatus.FINANCIAL_OBLIGATION,
    SuspendReason.CITIZEN_APPOINTMENT: PortalStatus.PROCESSING,
    SuspendReason.VERIFICATION: PortalStatus.PROCESSING,
    SuspendReason.OTHER: PortalStatus.PROCESSING,
}
"""The portal status a suspension shows: the national portal has one for a supplement and one
for a financial obligation; any other suspension is still "being processed" (4), its wording
(`procedures.legaltime.clock.SUSPENSION_WORDS`) saying why the clock stands."""


class DossierWatchers(DossierEffects):
    """Holds, deadlines and the escalation ladder, over the dossier's state."""

    def _suspend(self, reason: SuspendReason) -> None:
        self._holds.append(reason)
        if self._rt.clock.suspended:  # already stopped by another wait: the ledger has it
            self._event("suspension_joined", detail=f"{reason.value}; clock already stopped")
            return
        now = workflow.now()
        self._rt.clock = self._rt.clock.suspend(now, reason)
        for task in self._rt.open_tasks():
            if not task.clock.suspended:
                task.clock = task.clock.suspend(now, reason)
        for run in self._rt.phases:  # `phase_limits`: the phase running stands too
            if run.running and not run.clock.suspended:
                run.clock = run.clock.suspend(now, reason)
        self._epoch += 1
        self._event("suspended", detail=reason.value)
        self._publish()

    def _resume(self, reason: SuspendReason) -> PortalStatus:
        """End one hold; the clock runs again with the last. Returns the status to show."""
        self._holds.remove(reason)
        if self._holds:
            return HOLD_STATUS[self._holds[-1]]
        if not self._rt.clock.suspended:
            return PortalStatus.PROCESSING
        now = workflow.now()
        self._rt.clock = self._rt.clock.resume(now)
        for task in self._rt.open_tasks():
            if task.clock.suspended:
                task.clock = task.clock.resume(now)
        for run in self._rt.phases:
            if run.running and run.clock.suspended:
                run.clock = run.clock.resume(now)
        self._epoch += 1
        self._event("resumed", detail=f"due {local(self._due())}")
        self._publish()
        return PortalStatus.PROCESSING

    async def _until(
        self,
        done: Callable[[], bool],
        deadline: Callable[[], datetime | None],
        summary: str | None = None,
        halts: bool = True,
    ) -> bool:
        """Wait until `done()` (True) or the deadline (False).

        The deadline is derived again whenever `self._epoch` changes (new calendar, suspension,
        resume, extension). `None` means "no deadline for now": a suspended clock's instants
        recede as long as it stands still, so waiting on them would only wake the dossier
        again and again; the resume changes the epoch and the deadline returns. With `halts`,
        a withdrawal or stop ends the wait (CancelledError); without, the wait goes on.
        """
        while not done():
            epoch = self._epoch
            due = deadline()
            delay = None if due is None else (due - workflow.now()).total_seconds()
            if delay is not None and delay <= 0:
                return False

            def woken(since: int = epoch) -> bool:
                return done() or self._epoch != since or (halts and self._halting())

            try:
                await workflow.wait_condition(woken, timeout=delay, timeout_summary=summary)
            except TimeoutError:
                continue
            finally:
                if halts:
                    self._check_halt()
        return True

    async def _escalate(self, task: Task, step: TaskStep) -> None:
        """Remind at shares of the step's time; when it runs out, mark overdue and escalate."""
        escalation = step.escalation

        def at_share(share: float) -> Callable[[], datetime | None]:
            def instant() -> datetime | None:
                if task.clock.suspended:
                    return None
                return share_instant(task.clock, self._cal, share, workflow.now())

            return instant

        def due() -> datetime | None:
            return None if task.clock.suspended else task.clock.due(self._cal, workflow.now())

        for i, share in enumerate(sorted(escalation.remind_at) if escalation else []):
            await self._until(lambda: False, at_share(share))
            if task.reminders_sent <= i:
                task.reminders_sent = i + 1
                used = f"{round(share * 100)}%"
                self._event("reminded", task.step, detail=f"{used} of the time used")
                due_at = task.clock.due(self._cal, workflow.now())
                log(
                    "task_reminded",
                    dossier=self._inp.code,
                    step=task.step,
                    agency=task.agency,
                    role=task.role,
                    used=used,
                    due=due_at.isoformat(),
                )
                if self._has("tells_officers"):
                    seq = self._rt.next_seq()
                    await self._notify_officers(
                        officers.reminder(self._inp, seq, task, share, due_at, workflow.now())
                    )
        await self._until(lambda: False, due)
        task.overdue = True
        metrics.task_overdue(task.agency, task.role)
        self._event("overdue", task.step, detail=f"{task.agency}/{task.role}")
        overdue_role = task.role
        if escalation is not None and escalation.escalate_to is not None:
            task.role, task.assignee, task.status = escalation.escalate_to, None, TaskStatus.OPEN
            self._event("escalated", task.step, detail=f"to {task.agency}/{task.role}")
        log(
            "task_overdue",
            dossier=self._inp.code,
            step=task.step,
            agency=task.agency,
            role=overdue_role,
            escalated_to=task.role if task.role != overdue_role else None,
        )
        self._publish()
        if self._has("tells_officers"):
            seq, now = self._rt.next_seq(), workflow.now()
            due_at = task.clock.due(self._cal, now)
            await self._notify_officers(
                officers.overdue(self._inp, seq, task, overdue_role, due_at, now)
            )

    async def _watch_dossier(self) -> None:
        """`one_dossier_timer`: the dossier's own deadlines on one timer at a time, as one would
        write them by hand: the apology instant (while an extension is left), then the due
        instant.

        An approved apology's letter goes out at once; the due instant flags the dossier
        overdue for inboxes, and moves with suspensions, extensions and calendars like the
        legacy watchers' did. `run` never cancels it, and a withdrawal does not wake it: its
        pending timer dies with the finished workflow, so ending costs no event.
        """
        policy = self._proc.apology
        flagged: datetime | None = None
        carried = self._rt.apology
        sent = carried if carried is not None and carried.approved_by is not None else None
        while not self._ended:
            apology = self._rt.apology
            if apology is not None and apology.approved_by is not None and apology is not sent:
                sent = apology
                await self._send_apology_letter(apology)
                continue
            extensible = self._rt.clock.extensions < self._proc.max_extensions
            if policy is not None and extensible and apology is sent:
                await self._until(lambda: False, self._apology_instant, APOLOGY_DUE, halts=False)
                if not self._ended:
                    self._request_apology()
                continue

            pending = apology if apology is not None and apology.approved_by is None else None

            def approved(pending: Apology | None = pending) -> bool:
                return pending is not None and pending.approved_by is not None

            if await self._until(approved, self._running_due, DOSSIER_DUE, halts=False):
                continue
            if self._ended:
                return
            flagged = self._flag_overdue(flagged)
            epoch = self._epoch
            await workflow.wait_condition(lambda since=epoch: self._epoch != since)  # type: ignore[misc]

    def _apology_instant(self) -> datetime | None:
        """When to ask for the apology letter; none while the clock stands still."""
        policy, clock = self._proc.apology, self._rt.clock
        assert policy is not None
        if clock.suspended:
            return None
        return instant_before_due(clock, self._cal, policy.before, workflow.now())

    def _running_due(self) -> datetime | None:
        """The legal due instant; none while the clock stands still (it recedes meanwhile)."""
        return None if self._rt.clock.suspended else self._due()

    def _request_apology(self) -> None:
        policy = self._proc.apology
        assert policy is not None
        self._rt.apology = Apology(opened_at=workflow.now())
        self._event("apology_requested", detail=f"{self._receiving().code}/{policy.role}")
        log(
            "apology_requested",
            dossier=self._inp.code,
            agency=self._receiving().code,
            role=policy.role,
            due=self._due().isoformat(),
        )
        self._publish()

    async def _send_apology_letter(self, apology: Apology) -> None:
        details = {"reason": apology.reason, "new_due_at": local(self._due())}
        doc = await self._render(FormKind.APOLOGY, details)
        await self._notify(
            f"Hồ sơ {self._inp.code}: xin lỗi và hẹn lại ngày trả kết quả",
            f"{apology.reason}. Ngày hẹn mới: {local(self._due())}.",
            doc,
        )

    def _flag_overdue(self, flagged: datetime | None) -> datetime | None:
        """Flag the dossier overdue (once per due instant); returns the instant flagged."""
        if self._due() != flagged:
            flagged = self._due()
            self._event("dossier_overdue", detail=f"due {local(flagged)}")
            log("dossier_overdue", dossier=self._inp.code, due=flagged.isoformat())
        self._publish()
        return flagged
