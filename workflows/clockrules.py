"""Clock rules some laws need beyond suspending: a supplement that restarts the limit, and
phases with limits of their own.

- `restarting_supplements`: where the law counts the limit from the receipt of the complete,
  valid dossier (Luật Cư trú 2020 art. 22; enterprise registration), the applicant's
  supplement does not resume the clock where it stood: the limit runs anew, in full, from the
  supplement's arrival (a `restart` entry of the ledger), and the applicant is told the new
  appointment.
- `phase_limits`: a procedure's `phases` ("a decision within 20 working days of receipt, then
  payment within 5 working days of the decision") each get a clock of their own. A phase runs
  from the instant the walk reaches one of its steps until it reaches a step outside it (or
  the dossier ends); suspensions stop it as they stop the dossier's clock, a restart counts it
  anew, its due instant is watched and its end rated like a task's.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow

from workflows.watchers import HOLD_STATUS, DossierWatchers

with workflow.unsafe.imports_passed_through():
    # full name: passed through, not imported again for every run (see workflows/core.py)
    from procedures.legaltime.clock import DossierClock, SuspendReason
    from procedures.models import SupplementClock
    from workflows.api import DossierInput, PortalStatus
    from workflows.forms import limit_words, local
    from workflows.logs import log
    from workflows.state import PhaseRun

RESTARTED = "thời hạn giải quyết tính lại từ"
"""What the portal status after a restarting supplement says, before the instant: the audit
trail reads it as the clock's restart (`motcua.audit.trail`)."""

PHASE_DUE = "phase due"
"""The summary of a phase's due-instant timer, as the history shows it."""


class DossierClockRules(DossierWatchers):
    """Restarting supplements and phase limits, over the dossier's clocks."""

    def __init__(self, inp: DossierInput) -> None:
        super().__init__(inp)
        self._phase_watchers: list[asyncio.Task[None]] = []  # held: the loop keeps weak refs

    # ------------------------------------------------------------------ restarting supplements

    def _restarts_clock(self) -> bool:
        """Whether the applicant's supplement restarts the limit (`restarting_supplements`)."""
        policy = self._proc.supplement
        return (
            self._has("restarting_supplements")
            and policy is not None
            and policy.clock is SupplementClock.RESTART
        )

    def _restart_clock(self) -> PortalStatus:
        """End the supplement's hold by counting the limit anew from now: the dossier's clock
        and the phase running, each in full. Another hold (a payment in a branch) keeps them
        standing from the same instant. Returns the status to show."""
        policy = self._proc.supplement
        assert policy is not None
        self._holds.remove(SuspendReason.SUPPLEMENT)
        now = workflow.now()
        why = "hồ sơ đã được bổ sung đầy đủ" + (f" ({policy.basis})" if policy.basis else "")
        held = self._holds[-1] if self._holds else None

        def anew(clock: DossierClock) -> DossierClock:
            clock = clock.restart(now, why)
            return clock if held is None else clock.suspend(now, held)

        self._rt.clock = anew(self._rt.clock)
        for run in self._rt.phases:
            if run.running:
                run.clock = anew(run.clock)
        if held is None:
            for task in self._rt.open_tasks():
                if task.clock.suspended:
                    task.clock = task.clock.resume(now)
        self._epoch += 1
        start = self._rt.clock.counting_start(self._cal)
        words = limit_words(self._rt.clock.budget)
        self._event(
            "clock_restarted",
            detail=f"{why}: {words} từ {local(start)}; due {local(self._due())}",
        )
        log("clock_restarted", dossier=self._inp.code, due=self._due().isoformat())
        self._publish()
        return PortalStatus.PROCESSING if held is None else HOLD_STATUS[held]

    def _restart_said(self) -> str:
        """The portal status's words after a restart: from when, why, the new appointment."""
        restarted = self._rt.clock.restarted
        assert restarted is not None
        start = self._rt.clock.counting_start(self._cal)
        return (
            f"Đã nhận hồ sơ bổ sung; {RESTARTED} {local(start)} ({restarted.reason}); "
            f"hẹn trả kết quả {local(self._due())}"
        )

    async def _tell_restart(self) -> None:
        """The applicant's new appointment after a restarting supplement."""
        restarted = self._rt.clock.restarted
        assert restarted is not None
        start = self._rt.clock.counting_start(self._cal)
        words = limit_words(self._rt.clock.budget)
        await self._notify(
            f"Hồ sơ {self._inp.code}: hẹn lại ngày trả kết quả",
            f"Đã nhận hồ sơ bổ sung: {restarted.reason}. Thời hạn giải quyết ({words}) được "
            f"tính lại từ {local(start)}. Ngày hẹn trả kết quả mới: {local(self._due())}.",
        )

    # ------------------------------------------------------------------ phases

    def _enter_phase(self, step_id: str) -> None:
        """The walk reaches `step_id`: the phase running ends if the step is outside it, and
        the step's phase starts if it is not running (`phase_limits`)."""
        if not self._proc.phases or not self._has("phase_limits"):
            return
        phase = self._proc.phase_of(step_id)
        running = self._rt.open_phase()
        if running is not None and running.phase == phase:
            return
        if running is not None:
            self._end_phase(running)
        if phase is not None:
            self._start_phase(phase, step_id)

    def _start_phase(self, phase: str, step_id: str) -> None:
        spec = self._proc.phases[phase]
        now = workflow.now()
        clock = DossierClock(
            budget=spec.limit, max_extensions=0, hours=self._hours, whole_minutes=True
        ).start(now)
        if self._holds:  # reached while another wait holds the clock
            clock = clock.suspend(now, self._holds[-1])
        visit = 1 + sum(run.phase == phase for run in self._rt.phases)
        run = PhaseRun(phase=phase, visit=visit, step=step_id, started_at=now, clock=clock)
        self._rt.phases.append(run)
        due = clock.due(self._cal, now)
        self._event(
            "phase_started", step_id, detail=f"{phase}: {limit_words(spec.limit)}; due {local(due)}"
        )
        self._watch_phase(run)

    def _end_phase(self, run: PhaseRun) -> None:
        """Finish the phase's clock and rate it, as a task's end is rated."""
        now = workflow.now()
        run.clock = run.clock.finish(now)
        run.on_time = run.clock.status(self._cal).value
        due = run.clock.due(self._cal)
        self._event("phase_ended", detail=f"{run.phase}; due {local(due)}", on_time=run.on_time)

    def _end_phases(self) -> None:
        """The dossier ends: so does the phase running."""
        running = self._rt.open_phase()
        if running is not None:
            self._end_phase(running)

    def _watch_phases(self) -> None:
        """Watch the phase carried over continue-as-new, if one is running."""
        running = self._rt.open_phase()
        if running is not None and self._has("phase_limits"):
            self._watch_phase(running)

    def _watch_phase(self, run: PhaseRun) -> None:
        """A timer on the phase's due instant, moved by suspensions like the dossier's; never
        cancelled: it ends with the phase, or its timer dies with the workflow."""

        async def watch() -> None:
            def due() -> datetime | None:
                return None if run.clock.suspended else run.clock.due(self._cal, workflow.now())

            ended = await self._until(lambda: not run.running, due, PHASE_DUE, halts=False)
            if ended or self._ended:
                return
            run.overdue = True
            due_at = run.clock.due(self._cal, workflow.now())
            self._event("phase_overdue", detail=f"{run.phase}; due {local(due_at)}")
            log("phase_overdue", dossier=self._inp.code, phase=run.phase, due=due_at.isoformat())

        self._phase_watchers.append(asyncio.create_task(watch()))
