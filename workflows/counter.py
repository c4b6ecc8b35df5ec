"""One long-lived workflow per agency hands out dossier codes `<agency>-<YYMMDD>-<NNNN>`.

Numbers come from Temporal itself, with no external database: the `allocate` update is
serialised by the workflow, the day comes from `workflow.now()` in Vietnam's time zone, and the
workflow continues-as-new at each new day, carrying the last week's request ids so that a
repeated submission gets its first code back.
"""

from __future__ import annotations

from datetime import timedelta, timezone

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.api import ALLOCATE, COUNTER_WORKFLOW, Allocate, Allocation, CounterInput

VIETNAM = timezone(timedelta(hours=7))
MAX_PER_DAY = 9999
KEEP_DAYS = 7


@workflow.defn(name=COUNTER_WORKFLOW)
class AgencyCounterWorkflow:
    @workflow.init
    def __init__(self, inp: CounterInput) -> None:
        self._agency = inp.agency_code
        self._day = inp.day
        self._last = inp.last_number
        self._recent = dict(inp.recent)
        self._started_day = inp.day

    @workflow.run
    async def run(self, inp: CounterInput) -> None:
        await workflow.wait_condition(
            lambda: (
                (self._started_day != "" and self._day != self._started_day)
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        horizon = (workflow.now().astimezone(VIETNAM) - timedelta(days=KEEP_DAYS)).strftime(
            "%y%m%d"
        )
        recent = {k: v for k, v in self._recent.items() if v.code.split("-")[-2] >= horizon}
        workflow.continue_as_new(
            CounterInput(
                agency_code=self._agency, day=self._day, last_number=self._last, recent=recent
            )
        )

    @workflow.update(name=ALLOCATE)
    def allocate(self, req: Allocate) -> Allocation:
        known = self._recent.get(req.request_id)
        if known is not None:
            return known.model_copy(update={"existing": True})
        now = workflow.now()
        day = now.astimezone(VIETNAM).strftime("%y%m%d")
        if day != self._day:
            if self._started_day == "":
                self._started_day = day
            self._day, self._last = day, 0
        self._last += 1
        allocation = Allocation(code=f"{self._agency}-{day}-{self._last:04d}", received_at=now)
        self._recent[req.request_id] = allocation
        return allocation

    @allocate.validator
    def _check(self, req: Allocate) -> None:
        today = workflow.now().astimezone(VIETNAM).strftime("%y%m%d")
        if req.request_id not in self._recent and today == self._day and self._last >= MAX_PER_DAY:
            raise ValueError(f"agency {self._agency} has numbered {MAX_PER_DAY} dossiers today")
