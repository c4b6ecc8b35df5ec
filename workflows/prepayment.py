"""Payment before the dossier counts as received (`pays_before_receipt`, interpreter 6).

Some services (many online ones) receive a dossier only once its fee is paid: until then it is
"awaiting payment", no legal clock runs and no receipt exists. The procedure says so with a
`start` citizen step marked `before_receipt`; this mixin runs that step: the applicant is told
the sums and the deadline, and when they pay (`citizen_act`, or the step's `event` from the
treasury or an officer) the dossier is received at that instant: the clock starts, the receipt
(form 01) gives the appointment. Unpaid by the deadline, the walk goes to `on_timeout`, an end
step, and the dossier ends never received.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from workflows.watchers import DossierWatchers

with workflow.unsafe.imports_passed_through():
    from procedures.legaltime.clock import SuspendReason, deadline
    from procedures.models import CitizenStep
    from workflows.api import PortalStatus
    from workflows.forms import local, vnd


AWAITING = "awaiting payment before receipt"
"""How the timeline says a dossier is not received yet, for want of payment."""


class DossierPrepayment(DossierWatchers):
    """The pre-receipt payment step, over the dossier's state."""

    def _pays_first(self) -> CitizenStep | None:
        """The `start` step when this dossier pays before it is received, else None."""
        start = self._proc.steps.get(self._proc.start)
        if not self._has("pays_before_receipt") or not isinstance(start, CitizenStep):
            return None
        return start if start.before_receipt else None

    def _first_step(self) -> str:
        """Where the walk begins: past a pre-receipt payment that this channel does not ask
        for (the dossier is then received at once)."""
        start = self._pays_first()
        if start is not None and not start.before_receipt_on(self._inp.channel.value):
            return start.next
        return self._proc.start

    def _awaits_payment(self, step_id: str) -> bool:
        """Whether this visit of `step_id` is the payment before receipt."""
        return (
            step_id == self._proc.start
            and self._rt.received_at is None
            and self._inp.pays_before_receipt()
        )

    def _fees_due(self) -> str:
        """The procedure's fees computed on this application and channel, with their total."""
        channel = self._inp.channel.value
        amounts = [(fee.name, fee.for_form(self._inp.form, channel)) for fee in self._proc.fees]
        said = [f"{name}: {vnd(amount)}" for name, amount in amounts]
        return "; ".join([*said, f"Tổng cộng: {vnd(sum(a for _, a in amounts))}"])

    async def _prepay(self, step_id: str, step: CitizenStep, amounts: str) -> bool:
        """Await payment of `amounts` before receipt: True once paid (the dossier's receipt
        instant and clock are then set, the receipt is the caller's), False past the
        deadline."""
        started = workflow.now()
        due: datetime = deadline(self._cal, started, step.deadline, self._hours)
        # No clock before receipt: it stands until the payment replaces it with one from then.
        self._rt.clock = self._rt.clock.suspend(started, SuspendReason.FINANCIAL_OBLIGATION)
        self._epoch += 1
        what = f"{step.title or step_id}. {amounts}"
        self._awaiting.add(step_id)
        if step.event is not None:
            self._waiting.add(step.event)
            self._rt.events.pop(step.event, None)
        self._event("citizen_waiting", step_id, detail=f"{AWAITING}: {what}; hạn {local(due)}")
        await self._set_status(PortalStatus.REGISTERED, "Chờ nộp phí, lệ phí để tiếp nhận hồ sơ")
        await self._notify(
            f"Hồ sơ {self._inp.code}: đề nghị nộp phí, lệ phí",
            f"{what}. Hạn nộp: {local(due)}. Hồ sơ được tiếp nhận khi đã nộp phí, lệ phí; "
            "quá hạn, hồ sơ không được tiếp nhận.",
        )

        def paid() -> bool:
            return step_id in self._acted or (
                step.event is not None and step.event in self._rt.events
            )

        try:
            done = await self._until(paid, lambda: due, "payment before receipt due")
        finally:
            self._awaiting.discard(step_id)
            self._acted.discard(step_id)
            if step.event is not None:
                self._waiting.discard(step.event)
        if not done:
            self._event("timed_out", step_id, detail="payment before receipt")
            return False
        now = workflow.now()
        self._rt.received_at = now
        self._rt.clock = self._inp.opening_clock(now)
        self._epoch += 1
        self._event("arrived", step_id, detail="payment before receipt")
        return True
