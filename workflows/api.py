"""What crosses the dossier workflow's boundary: its input, its updates, its queries.

Clients (the command line, `temporal workflow update execute`, a future web front end) and the
workflow share these pydantic models, and nothing else. The names below are the Temporal
update, signal and query names, stable across versions: renaming one breaks running dossiers.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from identity.assertions import MAX_TOKEN_LENGTH, Claims
from procedures.legaltime.calendar import TimeLimit, WorkCalendar
from procedures.legaltime.clock import DossierClock
from procedures.models import Channel, CitizenStep, FrozenProcedure, ResultType
from procedures.text import Line, Lines, Payload, Text
from workflows import behaviours, packing

DOSSIER_WORKFLOW = "Dossier"
COUNTER_WORKFLOW = "AgencyCounter"
RATING_WORKFLOW = "Rating"

# Update names (officers and citizens act through these).
CLAIM = "claim"
COMPLETE = "complete"
REASSIGN = "reassign"
REQUEST_SUPPLEMENT = "request_supplement"
SUPPLEMENT = "supplement"
WITHDRAW = "withdraw"
DELIVER_EVENT = "deliver_event"
APPROVE_APOLOGY = "approve_apology"
CITIZEN_ACT = "citizen_act"
ALLOCATE = "allocate"
ALLOCATE_MANY = "allocate_many"
PROOF_FAILED = "ProofFailed"
"""The failure type of a citizen's update refused for a wrong identity number (interpreter 5
on): accepted, so that history counts it, then failed."""
# Signal and query names.
UPDATE_CALENDAR = "update_calendar"
STATE = "state"
PENDING_TASKS = "pending_tasks"
TIMELINE = "timeline"
APOLOGY_STEP = "apology"
"""How the apology-letter task is named in views and inboxes (approved with APPROVE_APOLOGY)."""
# Timer summaries the Web UI and the audit trail read.
DOSSIER_DUE = "dossier due"
APOLOGY_DUE = "apology due"
"""Interpreter 2 names its apology timer too: the head's role may already be pending (an
escalation), and then nothing else in the history would show the request."""
INTERPRETER = max(behaviours.BEHAVIOURS)
"""The interpreter version new dossiers run under (the newest of `workflows.behaviours`); see
`DossierInput.interpreter`."""


def updates_last(workflow_type: str, argument: Any) -> bool:
    """Whether a run takes its updates after the other jobs of an activation (`runtime.ordering`).

    Dossiers whose interpreter has the `updates_last` behaviour, read from the raw input their
    history starts with (an input recorded before the `interpreter` field existed is version 1).
    """
    if workflow_type != DOSSIER_WORKFLOW or not isinstance(argument, dict):
        return False
    version = argument.get("interpreter", 1)
    known = isinstance(version, int) and version in behaviours.BEHAVIOURS
    return known and behaviours.has(version, "updates_last")


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PortalStatus(IntEnum):
    """Dossier status codes synchronised to the National Public Service Portal."""

    REGISTERED = 1
    RECEIVED = 2
    REFUSED = 3
    PROCESSING = 4
    SUPPLEMENT_REQUESTED = 5
    FINANCIAL_OBLIGATION = 6
    WITHDRAWN = 7
    STOPPED = 8
    FINISHED = 9
    RETURNED = 10


class Actor(_Msg):
    """Who acts: an officer (`user@AGENCY_CODE/ROLE`) or the applicant (`role="applicant"`)."""

    user: Line = Field(min_length=1)
    agency: Line = Field("", description="National agency code; empty for the applicant.")
    role: Line = Field(min_length=1)
    acting_for: Line | None = Field(
        None,
        min_length=1,
        description="The officer this one acts for, under a delegation the signed assertion "
        "states (interpreter behaviour `acting_for`); absent from the JSON when None, so an "
        "actor's payload is what it was before the field existed.",
    )

    @model_serializer(mode="wrap")
    def _without_absent_delegation(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("acting_for") is None:
            data.pop("acting_for", None)
        return data

    @classmethod
    def signed(cls, claims: Claims) -> Actor:
        """The actor an assertion's claims name."""
        return cls(
            user=claims.user, agency=claims.agency, role=claims.role, acting_for=claims.acting_for
        )

    @classmethod
    def parse(cls, text: str) -> Actor:
        """Read `user@AGENCY/ROLE` as the command line's `--as` writes it."""
        user, sep, rest = text.partition("@")
        agency, sep2, role = rest.rpartition("/")
        if not (user and sep and sep2 and agency and role):
            raise ValueError(f"expected USER@AGENCY_CODE/ROLE, got {text!r}")
        return cls(user=user, agency=agency, role=role)

    def __str__(self) -> str:
        who = f"{self.user}@{self.agency}/{self.role}" if self.agency else self.user
        return f"{who} acting for {self.acting_for}" if self.acting_for else who


class Applicant(_Msg):
    """The citizen or business applying: personal data, never logged or indexed."""

    full_name: Line
    id_number: Line = Field(description="Citizen identity number (CCCD) or tax code.")
    phone: Line = ""
    email: Line = ""
    address: Line = ""


class DossierInput(_Msg):
    """Everything a dossier needs, frozen at submission: editing a YAML file changes nothing."""

    code: str = Field(description="The dossier code, also the workflow id.")
    procedure: FrozenProcedure
    calendar: WorkCalendar
    received_at: datetime
    channel: Channel
    applicant: Applicant
    form: Payload = {}
    documents: Lines = Field((), description="Ids of the documents submitted.")
    request_id: Line = Field(description="The client's request id; a repeat returns this dossier.")
    parent_code: str | None = Field(None, description="Set when run as a sub-procedure.")
    carried: dict[str, Any] | None = Field(
        None, description="State carried over continue-as-new; None on a fresh dossier."
    )
    history_limit: int | None = Field(
        None, description="Continue-as-new past this many events (else when Temporal suggests)."
    )
    interpreter: int = Field(
        INTERPRETER,
        description="The interpreter behaviour the dossier runs under, fixed at its start.",
    )

    def interpreter_version(self) -> int:
        """The behaviour this dossier runs under, as its history recorded it at the start.

        An input recorded before the field existed has no `interpreter` key (it is then absent
        from `model_fields_set`): that dossier runs version 1, whatever the default says now.
        Versioning in the input, not with `workflow.patched`, costs new dossiers no event
        (docs/auditing.md).
        """
        return self.interpreter if "interpreter" in self.model_fields_set else 1

    def pays_before_receipt(self) -> bool:
        """Whether this dossier counts as received only once paid (`pays_before_receipt`):
        its procedure starts with a citizen step `before_receipt` on the dossier's channel."""
        proc = self.procedure.procedure
        start = proc.steps.get(proc.start)
        return (
            behaviours.has(self.interpreter_version(), "pays_before_receipt")
            and isinstance(start, CitizenStep)
            and start.before_receipt_on(self.channel.value)
        )

    def received_at_start(self) -> bool:
        """Whether the dossier is received when it starts, so its `ReceivedAt` search attribute
        is given then: not when it pays first under `received_at_on_receipt` (the workflow
        upserts it at payment)."""
        return not (
            self.pays_before_receipt()
            and behaviours.has(self.interpreter_version(), "received_at_on_receipt")
        )

    def opening_clock(self, at: datetime | None = None) -> DossierClock:
        """The dossier's legal clock at receipt: the workflow starts from it, and the client
        reads the appointment date from it without waiting for the workflow. `at`: a receipt
        later than the submission (paid before receipt, `pays_before_receipt`)."""
        proc = self.procedure.procedure
        budget = proc.time_limit
        at = at or self.received_at
        if behaviours.has(self.interpreter_version(), "variable_time_limits"):
            # a case on the form holds from receipt (the receipt's appointment)
            received = received_on(at)
            budget, _ = proc.limit_for(self.form, {}, {}, received, self.channel.value)
        return DossierClock(
            budget=budget,
            max_extensions=proc.max_extensions,
            hours=proc.agencies[proc.receiving_agency].office_hours(self.calendar),
            whole_minutes=behaviours.has(self.interpreter_version(), "whole_minute_clock"),
        ).start(at)

    @model_validator(mode="before")
    @classmethod
    def _unpack_forms(cls, data: Any) -> Any:
        return packing.unpack(data)

    @model_serializer(mode="wrap")
    def _pack_forms(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        """In JSON (histories), the form templates travel compressed (`workflows.packing`)."""
        data: dict[str, Any] = handler(self)
        return packing.pack(data) if info.mode_is_json() else data


_ASSERTION = Field(
    None,
    max_length=MAX_TOKEN_LENGTH,
    description="The front door's signed assertion for `actor` (JWS, `motcua login`): required "
    "from interpreter behaviour `signed_officers` on; optional in the schema so that histories "
    "from before it still decode.",
)


class ClaimTask(_Msg):
    step: Line
    actor: Actor
    assertion: str | None = _ASSERTION


class CompleteTask(_Msg):
    step: Line
    actor: Actor
    assertion: str | None = _ASSERTION
    decision: Line
    fields: Payload = {}


class ReassignTask(_Msg):
    """A head of the task's agency hands an open task to another officer or role."""

    step: Line
    actor: Actor
    assertion: str | None = _ASSERTION
    to_user: Line | None = None
    to_role: Line | None = None
    reason: Text = Field(
        "",
        description="Why (an officer on leave...): recorded in the dossier's timeline from "
        "interpreter behaviour `reasoned_reassignment` on; empty in older histories.",
    )


class RequestSupplement(_Msg):
    step: Line
    actor: Actor
    assertion: str | None = _ASSERTION
    missing: Lines = Field(min_length=1, description="Everything missing, at once.")
    reason: Text = ""


_APPLICANT_ID = Field(
    None,
    description="The applicant's identity number (CCCD or tax code): only the applicant acts. "
    "Optional in the schema so that histories from before it still decode; required by the "
    "validator.",
)


class SupplementDossier(_Msg):
    """The applicant's supplement: resumes the clock."""

    documents: Lines = Field(min_length=1)
    note: Text = ""
    applicant_id: Line | None = _APPLICANT_ID


class RateDossier(_Msg):
    """The applicant's satisfaction with a finished dossier (`workflows.rating`)."""

    dossier_code: str
    procedure_code: str
    score: int = Field(ge=1, le=5, description="1 (very dissatisfied) to 5 (very satisfied).")


class WithdrawDossier(_Msg):
    reason: Text = ""
    applicant_id: Line | None = _APPLICANT_ID


class CitizenAct(_Msg):
    """The applicant has done what a `citizen` step asks (come and signed, paid, confirmed)."""

    step: Line
    fields: Payload = {}
    applicant_id: Line | None = _APPLICANT_ID


class DeliverEvent(_Msg):
    """An external event a `wait` step waits for (payment received, ...)."""

    event: Line
    actor: Actor
    assertion: str | None = _ASSERTION
    data: Payload = {}


class ApproveApology(_Msg):
    actor: Actor
    assertion: str | None = _ASSERTION
    reason: Text = Field(min_length=1, description="Why the dossier is late, for the applicant.")


class TaskStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskView(_Msg):
    """A human task as officers see it, drawn from the interpreter's `workflows.state.Task` at
    query time: immutable, with the instants the clock gives now (due, remaining) instead of the
    clock itself, and the decisions the step allows. The apology letter is one too."""

    step: str
    title: str
    agency: str = Field(description="National agency code.")
    agency_name: str
    role: str
    status: TaskStatus
    assignee: str | None = None
    opened_at: datetime
    due_at: datetime
    overdue: bool = False
    remaining_minutes: int = Field(
        0,
        description="Working minutes left of the step's share (negative when late), as the "
        "dossier counts them: its calendar, the agency's hours, suspensions.",
    )
    decision: str | None = None
    decisions: tuple[str, ...] = ()
    supplement_allowed: bool = False


class TimelineEntry(_Msg):
    """One thing that happened to the dossier, for the timeline and the control slip."""

    at: datetime
    kind: str = Field(description="e.g. received, task_opened, claimed, decided, reminded ...")
    step: str | None = None
    actor: str | None = None
    detail: str = ""
    on_time: str | None = Field(None, description="early / on_time / late for finished steps.")


class DocumentView(_Msg):
    kind: str
    title: str
    path: str
    issued_at: datetime


def received_on(received_at: datetime) -> str:
    """The day a dossier was received, `YYYY-MM-DD` in Vietnam's time: what expressions read
    as `received`."""
    return received_at.astimezone(timezone(timedelta(hours=7))).date().isoformat()


class ClockView(_Msg):
    received_at: datetime
    due_at: datetime
    used_minutes: int
    remaining_minutes: int
    suspended: bool
    extensions: int
    status: str = Field(description="early / on_time / late, as the portal counts it.")
    limit: TimeLimit | None = Field(
        None, description="The dossier's time limit (of its case, when the limit varies)."
    )
    restarted_at: datetime | None = Field(
        None,
        description="When a supplement restarted the limit in full (`supplement: {clock: "
        "restart}`); it counts from there.",
    )
    restart_reason: str | None = Field(None, description="Why the limit was restarted.")
    counted_from: datetime | None = Field(
        None,
        description="With a restart, when the limit counts from: the supplement's arrival moved "
        "past the cut-off and closed hours, as a receipt's (the timeline's `clock_restarted`).",
    )


class PhaseView(_Msg):
    """One run of a procedure's phase (`phases`): its own limit from its start."""

    phase: str
    title: str
    visit: int = 1
    step: str = Field(description="The step that started it.")
    started_at: datetime
    due_at: datetime
    finished_at: datetime | None = None
    limit: TimeLimit
    remaining_minutes: int = Field(description="Working minutes left; negative when late.")
    suspended: bool = False
    overdue: bool = False
    status: str = Field(description="early / on_time / late: at its end, or so far.")


class RepetitionView(_Msg):
    """Where a `repeat` step stands (`repeats_steps`): "report 4 of 6", "missed 2 in a row"."""

    step: str
    title: str
    times: int = Field(description="How many periods in all.")
    number: int = Field(description="The period open now, or the last one opened (0: none).")
    reported: int = 0
    missed: int = 0
    missed_in_row: int = 0
    awaiting: bool = Field(False, description="A report for period `number` is awaited now.")
    due_at: datetime | None = Field(None, description="When the open period ends.")
    opens_at: datetime | None = Field(None, description="When the next period opens.")
    finished: bool = False


class DossierState(_Msg):
    """The answer of the `state` query: no history scan needed."""

    code: str
    procedure_code: str
    procedure_name: str
    content_hash: str
    status: PortalStatus
    result: ResultType | None = None
    tasks: tuple[TaskView, ...] = ()
    apology: TaskView | None = Field(
        None, description=f"The head's pending apology letter (step `{APOLOGY_STEP}`), if any."
    )
    timeline: tuple[TimelineEntry, ...] = ()
    documents: tuple[DocumentView, ...] = ()
    clock: ClockView
    calendar_version: str
    repetitions: tuple[RepetitionView, ...] = Field(
        (), description="The dossier's `repeat` steps, open or finished (`repeats_steps`)."
    )
    phases: tuple[PhaseView, ...] = Field(
        (), description="The procedure's phases run so far, each with its own due instant."
    )


class DossierOutcome(_Msg):
    """What the workflow returns when the dossier ends."""

    code: str
    result: ResultType
    status: PortalStatus
    finished_at: datetime
    on_time: str


class Allocate(_Msg):
    """Ask an agency's counter for a dossier code; the counter's clock fixes the receipt day."""

    request_id: str = Field(min_length=1)


class Allocation(_Msg):
    """A dossier code and the instant of receipt; `existing` when the request came before."""

    code: str
    received_at: datetime
    existing: bool = False


class AllocateMany(_Msg):
    """Numbers for many submissions in one update: one ticket each (`workflows.counter.ticket`).

    A ticket is 16 characters (a request id's key and its content's fingerprint), so a batch of
    the most the counter takes is about 20 KB of history."""

    tickets: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16}$")]] = Field(
        min_length=1, max_length=1000
    )


class Allocated(_Msg):
    """One answer per ticket, in order: its code, `""` when its request id was used before for a
    different submission (refused), and whether the code was issued before (a repeat)."""

    received_at: datetime
    codes: list[str]
    existing: list[bool]


class CounterInput(_Msg):
    agency_code: str
    day: str = Field("", description="YYMMDD of the day being numbered; empty before the first.")
    last_number: int = 0
    recent: dict[str, Allocation] = Field(
        {}, description="Request id -> allocation: the first counter's state, read on upgrade."
    )
    issued: dict[str, str] = Field(
        {}, description="YYMMDD -> the day's tickets concatenated, number n at [16(n-1), 16n)."
    )
