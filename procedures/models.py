"""The procedure language: what a procedure author may write in a YAML file.

Every model is frozen and forbids unknown fields, so a typo such as `agnecy` is an error and a
loaded procedure can travel, unchanged, inside a workflow input. Field descriptions double as
the hover docs of the JSON Schema (`motcua schema`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from procedures.legaltime.calendar import OfficeHours, TimeLimit, WorkCalendar
from procedures.legaltime.clock import SuspendReason
from procedures.templates import Refused, amount_of, evaluate
from procedures.text import MAX_LINE, MAX_NAME, MAX_TEXT

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
"""A name the file refers to elsewhere: lower case, digits and underscores."""

Name = Annotated[str, Field(max_length=MAX_NAME)]
"""A name or a title for people (a legal text, an exemption), bounded like every input."""

ACTIVITY_NAMES: frozenset[str] = frozenset({"render_form", "notify_applicant", "issue_result"})
"""Activities an automatic step may name (the `activities` package implements them).

`render_form` takes `form` (a form kind); `notify_applicant` takes `subject` and `body`
(jinja2 strings); `issue_result` takes `document` (a result id) and gives it a register number.
"""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Level(StrEnum):
    """Government tier handling the procedure (two tiers since 2025-07-01)."""

    PROVINCE = "province"
    COMMUNE = "commune"
    DISTRICT = "district"  # kept only so that pre-2025 dossiers can still be read


class Channel(StrEnum):
    """How a dossier may be submitted; values are the portal's channel codes' names."""

    IN_PERSON = "in_person"
    ONLINE = "online"
    POST = "post"


class ResultType(StrEnum):
    """How a dossier ends."""

    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    STOPPED = "stopped"


class FormKind(StrEnum):
    """The legal forms a procedure must be able to issue (numbers live in the YAML)."""

    RECEIPT = "receipt"
    SUPPLEMENT_REQUEST = "supplement_request"
    REFUSAL = "refusal"
    APOLOGY = "apology"
    CONTROL_SLIP = "control_slip"
    STOP_NOTICE = "stop_notice"
    RESULT = "result"


class Agency(_Model):
    """An agency taking part in the procedure."""

    code: str = Field(max_length=64, description="National agency code, e.g. `000.00.19.H26`.")
    name: str = Field(
        max_length=MAX_LINE,
        description="Vietnamese name of the agency, whole on its forms; its signing "
        "certificate holds it cut to x509's bounds (64 bytes) and whole in `description`.",
    )
    task_queue: str = Field(
        max_length=MAX_LINE, description="Temporal task queue its worker listens on."
    )
    roles: tuple[Identifier, ...] = Field(
        min_length=1, description="Roles of its officers: one_stop, specialist, head..."
    )
    hours: OfficeHours | None = Field(None, description="Office hours if not the default.")

    def office_hours(self, calendar: WorkCalendar) -> OfficeHours:
        """Its own hours if the procedure sets them, else the calendar's for its code."""
        return self.hours or calendar.hours_for(self.code)


class Document(_Model):
    """A document the applicant must submit."""

    id: Identifier
    name: str = Field(max_length=MAX_NAME)
    copies: int = Field(1, ge=0, description="Number of copies (0: show only).")
    original: bool = Field(False, description="An original must be shown.")
    digitised_accepted: bool = Field(True, description="A digitised (scanned) copy is accepted.")
    reuse_accepted: bool = Field(
        False, description="May be reused from the national data base instead of submitted."
    )
    required: bool = True
    required_if: str | None = Field(
        None,
        exclude_if=lambda condition: condition is None,  # files without it keep their hash
        max_length=500,
        description="An expression on `form` (the application): the document is required "
        "exactly when it holds, e.g. `form.claims_exemption`; a submission without it is "
        "refused. `required` then plays no part.",
    )

    def needed(self, form: Mapping[str, Any]) -> bool:
        """Whether a submission with this form data must include the document: `required_if`
        when given, else `required`."""
        if self.required_if is None:
            return self.required
        return evaluate(self.required_if, {"form": dict(form), "decisions": {}, "fields": {}})


class Fee(_Model):
    """A fee or charge, in VND."""

    name: str = Field(max_length=MAX_NAME)
    amount_vnd: int = Field(ge=0, description="The amount (with `amount`: when it gives none).")
    exempt: tuple[Name, ...] = Field((), description="Categories of applicants exempt from it.")
    amount: str | None = Field(
        None,
        exclude_if=lambda amount: amount is None,  # files without it keep their content hash
        max_length=500,
        description="The amount computed from the application: an expression on `form` and "
        "`channel` (`in_person`, `online`, `post`) giving whole VND, e.g. "
        "`form.area_m2 * 1500`, a table: `{'urban': 200000, 'rural': 100000}[form.zone]`, or "
        "`14000 if channel == 'online' else 28000`.",
    )

    def for_form(self, form: Mapping[str, Any], channel: str | None = None) -> int:
        """The amount due on this application, submitted on `channel`: `amount` computed,
        else `amount_vnd`."""
        if self.amount is None:
            return self.amount_vnd
        context = {"form": dict(form), "decisions": {}, "fields": {}, "channel": channel}
        try:
            found = amount_of(self.amount, context)
        except Refused:
            found = None
        return self.amount_vnd if found is None else found


class ResultDocument(_Model):
    """A document the procedure issues as its result."""

    id: Identifier
    name: str = Field(max_length=MAX_NAME)
    digitised: bool = Field(True, description="Issued as an electronic copy too.")


class Form(_Model):
    """A legal form rendered from a jinja2 template (sandboxed, autoescaped)."""

    number: str = Field(
        max_length=64, description="Form number in its circular, e.g. `01` (Circular 01/2018)."
    )
    title: str = Field(max_length=MAX_NAME)
    template: str = Field(
        max_length=MAX_NAME, description="Template file, relative to the YAML file."
    )
    source: str | None = Field(
        None, description="Filled in by the loader with the template text; do not write it."
    )


class FieldType(StrEnum):
    """Types of a declared field: one an officer fills in on a task, or the applicant's form."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    CHOICE = "choice"


class FormField(_Model):
    """A declared field: one an officer fills in on a task, or one of the applicant's form.

    `type` fixes the JSON values accepted (a `date` is a `YYYY-MM-DD` string); a `choice`
    field lists its `choices`, and no other type has any.
    """

    type: FieldType = FieldType.STRING
    required: bool = Field(False, description='A value must be given (null or "" is none).')
    label: str | None = Field(
        None, max_length=MAX_NAME, description="What the field is called on screen."
    )
    choices: tuple[Annotated[str, Field(max_length=MAX_LINE)], ...] = Field(
        (), description="Allowed values of a `choice` field (at least one; only for `choice`)."
    )
    max_length: int | None = Field(
        None,
        ge=1,
        le=MAX_TEXT * 32,
        exclude_if=lambda value: value is None,  # files without it keep their content hash
        description=f"Most characters a `string` value may have (default {MAX_TEXT}; only for "
        "`string`).",
    )

    def longest(self) -> int:
        """The most characters a `string` value of this field may have."""
        return self.max_length or MAX_TEXT


class Escalation(_Model):
    """Reminders and escalation of one step, as shares of the step's own time."""

    remind_at: tuple[Annotated[float, Field(gt=0, lt=1)], ...] = Field(
        (), description="Remind the assignee when these shares of the step's time are used."
    )
    escalate_to: Identifier | None = Field(
        None, description="Role of the same agency the task is reassigned to when time runs out."
    )


class Apology(_Model):
    """The dossier-level apology-and-new-date letter (form 04) before the legal deadline."""

    role: Identifier = Field(description="Role (of the receiving agency) that approves it.")
    before: TimeLimit = Field(
        TimeLimit(amount=1), description="How long before the legal deadline the task opens."
    )
    extension: TimeLimit = Field(description="How much the new appointment date adds.")


class SupplementClock(StrEnum):
    """What a supplement does to the legal clock."""

    SUSPEND = "suspend"
    """The clock stands from the request to the supplement, then runs on (the default)."""
    RESTART = "restart"
    """The clock stands from the request; the supplement restarts the limit in full from its
    arrival, where the law counts it from the complete dossier's receipt."""


class SupplementPolicy(_Model):
    """How long the applicant has to supplement before processing stops, and what the
    supplement does to the legal clock."""

    wait: TimeLimit = Field(description="Time allowed to the applicant (clock suspended).")
    clock: SupplementClock = Field(
        SupplementClock.SUSPEND,
        exclude_if=lambda clock: clock is SupplementClock.SUSPEND,  # older files keep their hash
        description="`suspend` (default): the time limit runs on from where it stood once the "
        "supplement arrives. `restart`: it runs anew, in full, from the supplement's arrival "
        "(receipt rules apply), where the law counts it from the receipt of the complete, "
        "valid dossier; the applicant is told the new appointment.",
    )
    basis: str | None = Field(
        None,
        exclude_if=lambda basis: basis is None,
        max_length=500,
        description="With `clock: restart`, the legal text that says so, e.g. `Luật Cư trú "
        "2020, điều 22 khoản 3`: written in the timeline and the applicant's notice.",
    )


class _Step(_Model):
    title: str | None = Field(
        None, max_length=MAX_NAME, description="What the step does, shown to officers."
    )


class TaskStep(_Step):
    """A human task: an officer of `agency` with `role` decides."""

    kind: Literal["task"]
    agency: Identifier
    role: Identifier
    share: float = Field(
        gt=0, description="This step's share of the legal time limit, in the procedure's unit."
    )
    decisions: dict[Identifier, Identifier] = Field(
        min_length=1, description="Each decision the officer may take and the step it leads to."
    )
    fields: dict[Identifier, FormField] = Field({}, description="Fields the officer fills in.")
    escalation: Escalation | None = None
    supplement_allowed: bool = Field(
        False, description="The officer may request a supplement from the applicant here."
    )


class AutoStep(_Step):
    """An automatic step: one activity with arguments (strings are jinja2 templates)."""

    kind: Literal["auto"]
    activity: str = Field(description="One of: " + ", ".join(sorted(ACTIVITY_NAMES)) + ".")
    args: dict[str, Any] = Field({})
    agency: Identifier | None = Field(None, description="Agency whose queue runs it.")
    next: Identifier


class ParallelStep(_Step):
    """Branches run at once; each branch ends when it reaches `next`, where they join.

    A branch that reaches an end step ends the dossier and cancels its siblings.
    """

    kind: Literal["parallel"]
    branches: dict[Identifier, Identifier] = Field(
        min_length=2, description="Branch name to the first step of the branch."
    )
    next: Identifier


class ChoiceRule(_Model):
    """One rule of a choice: go to `then` when the expression `if` is true."""

    if_: str = Field(alias="if", description="Expression on `form`, `decisions` and `fields`.")
    then: Identifier

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ChoiceStep(_Step):
    """A conditional choice on dossier data or earlier decisions; first true rule wins."""

    kind: Literal["choice"]
    when: tuple[ChoiceRule, ...] = Field(min_length=1)
    otherwise: Identifier


class SubprocedureStep(_Step):
    """Another procedure handed to another agency, run as a child workflow on its queue."""

    kind: Literal["subprocedure"]
    procedure: str = Field(description="Code of the procedure (another catalogue file).")
    agency: Identifier = Field(description="Agency whose task queue runs the child.")
    share: float = Field(gt=0)
    results: dict[ResultType, Identifier] = Field(
        min_length=1, description="Next step for each result of the sub-procedure."
    )


def _before_receipt(value: Any) -> Any:
    """One message for a wrong `before_receipt`, not one per member of the union (which named
    pydantic's types: `before_receipt.tuple[str-enum[Channel], ...][1]`)."""
    channels = ", ".join(c.value for c in Channel)
    if isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        wrong = [c for c in value if not (isinstance(c, str) and c in set(Channel))]
        if not wrong:
            return value
        raise ValueError(f"`{wrong[0]}` is not a channel: {channels}")
    raise ValueError(
        f"`{value}` is not true, false or a list of channels ({channels}), e.g. `[online]`"
    )


def _suspension(value: Any) -> Any:
    """One message for a wrong `suspends_clock`, not one per member of the union."""
    if isinstance(value, bool) or (
        isinstance(value, str) and value in {r.value for r in SuspendReason}
    ):
        return value
    reasons = ", ".join(r.value for r in SuspendReason if r is not SuspendReason.SUPPLEMENT)
    raise ValueError(f"`{value}` is not true, false or why the clock stops: {reasons}")


class WaitStep(_Step):
    """Wait for an external event (payment received, citizen supplement) with a time limit."""

    kind: Literal["wait"]
    event: Identifier = Field(description="Event name, e.g. `payment_received`.")
    timeout: TimeLimit
    next: Identifier
    on_timeout: Identifier
    suspends_clock: Annotated[bool | SuspendReason, BeforeValidator(_suspension)] = Field(
        False,
        description="The legal clock stops while waiting, and why: `financial_obligation`, "
        "`citizen_appointment`, `verification` or `other` (`true`, the older form, means "
        "`financial_obligation`). The reason sets the portal status and the wording.",
    )

    @property
    def suspension(self) -> SuspendReason | None:
        """Why the clock stops while waiting, or None when it runs."""
        if self.suspends_clock is True:
            return SuspendReason.FINANCIAL_OBLIGATION
        return self.suspends_clock or None


class Amount(_Model):
    """A sum of money the applicant is asked for, computed when the step opens."""

    name: str = Field(max_length=500, description="What it is, e.g. `Lệ phí trước bạ`.")
    amount: str = Field(
        max_length=500,
        description="Expression giving whole VND on `form`, `decisions` and `fields`, e.g. "
        "`fields.assess_tax.registration_fee_vnd` or `form.area_m2 * 15000`.",
    )


class CitizenStep(_Step):
    """Something only the applicant does (come and sign, pay, confirm) by a deadline: told
    when the step opens, they act with `motcua citizen act` (their identity number as proof);
    without it by the deadline, the dossier goes `on_timeout`."""

    kind: Literal["citizen"]
    deadline: TimeLimit = Field(
        description="How long the applicant has, from the step's opening (the receiving "
        "agency's hours and calendar)."
    )
    next: Identifier = Field(description="The step after the applicant has acted.")
    on_timeout: Identifier = Field(description="The step when the deadline passes first.")
    suspends_clock: Annotated[bool | SuspendReason, BeforeValidator(_suspension)] = Field(
        SuspendReason.CITIZEN_APPOINTMENT,
        description="The legal clock stops while the applicant has to act, and why (default "
        "`citizen_appointment`; `false`: it runs).",
    )
    fields: dict[Identifier, FormField] = Field(
        {},
        description="What the applicant gives when acting (e.g. a payment receipt number), "
        "read later as `fields.STEP.FIELD`.",
    )
    amounts: tuple[Amount, ...] = Field(
        (),
        exclude_if=lambda amounts: not amounts,
        max_length=20,
        description="For a payment: the sums asked for (and their total), in the applicant's "
        "notice and the timeline.",
    )
    event: Identifier | None = Field(
        None,
        exclude_if=lambda event: event is None,
        description="An external event that also completes the step (`motcua event`, e.g. "
        "the treasury's or an officer's confirmation of payment).",
    )

    before_receipt: Annotated[bool | tuple[Channel, ...], BeforeValidator(_before_receipt)] = Field(
        False,
        exclude_if=lambda before: before is False,  # files without it keep their content hash
        description="Payment before the dossier counts as received (only on the `start` "
        "step): `true`, or the channels it applies to (e.g. `[online]`; on the others the "
        "dossier is received at once and starts at `next`). Until the applicant acts (or "
        "`event` comes) the dossier awaits payment: no receipt, no clock; then it is "
        "received (receipt, appointment, clock from that instant). Past `deadline` it ends "
        "at `on_timeout` (an end step), never received.",
    )

    @property
    def suspension(self) -> SuspendReason | None:
        """Why the clock stops while the applicant has to act, or None when it runs."""
        if self.suspends_clock is True:
            return SuspendReason.CITIZEN_APPOINTMENT
        return self.suspends_clock or None

    def before_receipt_on(self, channel: str) -> bool:
        """Whether a dossier submitted on `channel` runs this step before its receipt."""
        if isinstance(self.before_receipt, bool):
            return self.before_receipt
        return channel in self.before_receipt


MAX_TIMES = 120
"""Most periods a `repeat` step may count (ten years of monthly reports): each costs a few
history events, so the bound keeps a dossier's history within what Temporal takes."""


def _times(value: Any) -> Any:
    """One message for a wrong `times`, not one per member of the union."""
    if isinstance(value, str) or (
        isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TIMES
    ):
        return value
    raise ValueError(
        f"`{value}` is neither a number of periods from 1 to {MAX_TIMES} nor an expression "
        "giving one"
    )


class RepeatStep(_Step):
    """A report the applicant makes once per period, `times` periods in a row (monthly
    job-search reports of an unemployment benefit). Period k runs from `every`×(k−1) to
    `every`×k after the step opens; a report (`motcua citizen act`, or `event`) in it counts,
    none by its end is a miss. `end_after_missed` misses in a row go to `on_missed`; else,
    once the last period is reported (or ends), to `next`."""

    kind: Literal["repeat"]
    times: Annotated[
        Annotated[int, Field(ge=1, le=MAX_TIMES)] | Annotated[str, Field(max_length=500)],
        BeforeValidator(_times),
    ] = Field(
        description=f"How many periods: a number (1 to {MAX_TIMES}) or an expression on "
        "`form`, `decisions` and `fields` giving one when the step opens, e.g. "
        "`fields.decide.benefit_months`.",
    )
    every: TimeLimit = Field(
        description="The length of a period, e.g. `{amount: 30, unit: calendar_days}` "
        "(the receiving agency's hours and calendar)."
    )
    next: Identifier = Field(description="The step after the last period.")
    end_after_missed: int | None = Field(
        None,
        ge=1,
        le=MAX_TIMES,
        description="Misses in a row that end the repetitions (at `on_missed`); none: misses "
        "are counted but never end them.",
    )
    on_missed: Identifier | None = Field(
        None, description="The step when `end_after_missed` periods in a row were missed."
    )
    suspends_clock: Annotated[bool | SuspendReason, BeforeValidator(_suspension)] = Field(
        SuspendReason.OTHER,
        description="The legal clock stops during the repetitions, and why (default `other`: "
        "the applicant's reports do not count against the agency; `false`: it runs).",
    )
    fields: dict[Identifier, FormField] = Field(
        {},
        description="What the applicant gives with each report, read later as "
        "`fields.STEP.FIELD` (the last report's).",
    )
    event: Identifier | None = Field(
        None,
        description="An external event that also counts as the period's report (`motcua "
        "event`, e.g. the employment centre recording the visit).",
    )

    @property
    def suspension(self) -> SuspendReason | None:
        """Why the clock stops during the repetitions, or None when it runs."""
        if self.suspends_clock is True:
            return SuspendReason.OTHER
        return self.suspends_clock or None


class EndStep(_Step):
    """The end of the dossier with its result; `form` is issued on the way out."""

    kind: Literal["end"]
    result: ResultType
    form: FormKind | None = None
    reason: str | None = Field(
        None,
        exclude_if=lambda reason: reason is None,  # files without it keep their content hash
        max_length=2000,
        description="Why the dossier ends, for the applicant, the portal and the form "
        "(`details.reason`): a template over `code`, `form`, `decisions` and `fields`, e.g. "
        "`{{ fields.review.refusal_reason }}` for the reason the officer entered. Default: "
        "the step's title.",
    )


Step = Annotated[
    TaskStep
    | AutoStep
    | ParallelStep
    | ChoiceStep
    | SubprocedureStep
    | WaitStep
    | CitizenStep
    | RepeatStep
    | EndStep,
    Field(discriminator="kind"),
]


class LimitCase(_Model):
    """One case of a variable time limit: `limit` applies while `if` holds (the first case that
    holds wins; none: the procedure's `time_limit`)."""

    if_: str = Field(
        alias="if",
        max_length=500,
        description="Expression on `form`, `decisions` and `fields`, e.g. "
        "`decisions.examine == 'needs_verification'`. On `form` alone it holds from receipt "
        "(the receipt's appointment); on an officer's decision or field, from that decision on.",
    )
    limit: TimeLimit = Field(description="The legal time limit in this case, counted from receipt.")
    title: str | None = Field(
        None, max_length=500, description="Why this limit applies, for the applicant's notice."
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Phase(_Model):
    """A phase of the procedure: steps with a time limit of their own, counted from the
    phase's start (the first of its steps the dossier reaches), e.g. a decision within 20
    working days, then payment within 5 working days of the decision."""

    title: str | None = Field(None, max_length=500, description="What the phase is, for people.")
    limit: TimeLimit = Field(description="The phase's time limit, counted from its start.")
    steps: tuple[Identifier, ...] = Field(
        min_length=1,
        max_length=200,
        description="Its steps, in no particular order; a step belongs to one phase at most, "
        "and a parallel step's whole block to the same phase as the parallel step.",
    )


class Procedure(_Model):
    """One administrative procedure (thủ tục hành chính), as its author writes it."""

    code: str = Field(
        pattern=r"^[0-9]+\.[0-9]+$", description="Code in the national procedure database."
    )
    name: str = Field(max_length=1000, description="Vietnamese name of the procedure.")
    version: str = Field(max_length=64)
    legal_basis: tuple[Name, ...] = Field(min_length=1, description="Legal texts it rests on.")
    effective_from: date
    effective_to: date | None = None
    sector: str = Field(max_length=MAX_LINE)
    level: Level
    channels: tuple[Channel, ...] = Field(min_length=1)
    time_limit: TimeLimit = Field(description="The legal processing time limit.")
    time_limits: tuple[LimitCase, ...] = Field(
        (),
        exclude_if=lambda cases: not cases,  # files without it keep their content hash
        max_length=20,
        description="Variable time limits: cases, each a condition and the limit it gives "
        "(same unit as `time_limit`); the first that holds sets the dossier's limit, else "
        "`time_limit` does. Evaluated at receipt and after every officer's decision.",
    )
    max_extensions: int = Field(1, ge=0, description="How many times the date may be moved.")
    supplement: SupplementPolicy | None = None
    apology: Apology | None = None
    agencies: dict[Identifier, Agency] = Field(min_length=1)
    receiving_agency: Identifier = Field(description="Agency whose code prefixes dossier codes.")
    documents: tuple[Document, ...] = ()
    application: dict[Identifier, FormField] = Field(
        {},
        description="The form data the applicant submits (`form.*` in conditions and "
        "templates). Declared, it is checked: submissions must match it and `form.*` reads "
        "must name its fields. Empty: any form is accepted, unchecked.",
    )
    fees: tuple[Fee, ...] = ()
    results: tuple[ResultDocument, ...] = ()
    forms: dict[FormKind | Identifier, Form] = Field(
        {},
        description="Legal forms the procedure issues: the fixed kinds (receipt, refusal...) "
        "and documents of its own (any other identifier, e.g. `cadastral_transfer_slip`), "
        "issued by an `auto` step `render_form` with `form: <name>`.",
    )
    phases: dict[Identifier, Phase] = Field(
        {},
        exclude_if=lambda phases: not phases,  # files without it keep their content hash
        max_length=20,
        description="Separate limits per phase: each phase (a name) groups steps and has a "
        "limit counted from its start, shown and rated on its own; `time_limit` still counts "
        "the whole dossier from receipt.",
    )
    start: Identifier
    steps: dict[Identifier, Step] = Field(min_length=1)

    def phase_of(self, step: str) -> str | None:
        """The phase `step` belongs to, if any (`validate` makes it at most one)."""
        return next((name for name, phase in self.phases.items() if step in phase.steps), None)

    def limit_for(
        self,
        form: Mapping[str, Any],
        decisions: Mapping[str, Any],
        fields: Mapping[str, Any],
        received: str | None = None,
        channel: str | None = None,
    ) -> tuple[TimeLimit, LimitCase | None]:
        """The dossier's time limit on this data, and the case that gave it (None: the
        procedure's `time_limit`). A case whose condition is refused counts as not holding."""
        context = {
            "form": dict(form),
            "decisions": dict(decisions),
            "fields": dict(fields),
            "received": received,
            "channel": channel,
        }
        for case in self.time_limits:
            try:
                holds = evaluate(case.if_, context)
            except Refused:
                holds = False
            if holds:
                return case.limit, case
        return self.time_limit, None


class FrozenProcedure(_Model):
    """A validated procedure as frozen into a workflow input, with what it depends on.

    `content_hash` names the version; `subprocedures` holds, frozen too, every procedure its
    subprocedure steps hand over to, so a running dossier never reads a file again.
    """

    procedure: Procedure
    content_hash: str
    source: str = Field(description="Path of the YAML file it was loaded from.")
    subprocedures: dict[str, FrozenProcedure] = {}
