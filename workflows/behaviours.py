"""Interpreter versions as named behaviours: the one table the interpreter reads versions from.

A dossier runs, for its whole life, under the interpreter version recorded in its input
(`DossierInput.interpreter_version`). Changing what the interpreter does in a way a history
would show is a new version with a name for each change, added here; the workflow code asks
`has(version, "tells_officers")` and never compares version numbers, so the code a version
no longer needs can be found by name and retired (docs/auditing.md, "Retiring a version").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Behaviour = Literal[
    "one_dossier_timer",
    "coalesced_upserts",
    "halt_ends_walk",
    "updates_last",
    "tells_officers",
    "stops_runaway",
    "indicator_attributes",
    "whole_minute_clock",
    "vietnamese_end_notice",
    "templates_read_fields",
    "template_errors_end_dossier",
    "signed_officers",
    "published_only",
    "proof_attempts",
    "delivers_notifications",
    "acting_for",
    "reasoned_reassignment",
    "variable_time_limits",
    "citizen_steps",
    "computed_fees",
    "procedure_forms",
    "templates_read_receipt",
    "pays_before_receipt",
    "repeats_steps",
    "restarting_supplements",
    "phase_limits",
    "upserts_changed_only",
    "received_at_on_receipt",
]
"""
- `one_dossier_timer`: the dossier's own deadlines (apology instant, due instant) wait on one
  timer at a time (`_watch_dossier`) instead of the two version-1 watchers of
  `workflows.legacy_v1`, and without the OVERDUE_WATCH patch marker.
- `coalesced_upserts`: search attributes are upserted at most once per activation, and once
  more before a continue-as-new.
- `halt_ends_walk`: a withdrawal or stop ends the walk at its next wait, without the
  HALT_ENDS_WALK patch marker version 1 records.
- `updates_last`: the worker runs an activation's updates after its other jobs
  (`workflows.api.updates_last`, the runtime's ordering runner).
- `tells_officers`: officers are told of reminders, overdue tasks and escalations
  (`workflows.officers`, outbox/officers.jsonl).
- `stops_runaway`: a dossier that visits more steps in a row than its budget with no human
  task, wait or sub-procedure between them (a loop nothing stops), or whose expression or
  argument template is refused by the budgets of `procedures.templates`, ends as stopped with
  the step's location as its reason, instead of looping or failing its workflow tasks.
- `indicator_attributes`: every upsert carries the indicator attributes too (supplements,
  apologies, online payment, participants; at the end result, timeliness and processing days:
  `workflows.search_attributes.indicators`, docs/indicators.md).
- `whole_minute_clock`: the dossier's and the tasks' clocks read every instant from the start
  of its minute (`DossierClock.whole_minutes`), so a second used before a suspension no longer
  makes the due instant 16:59:59 (printed 16:59).
- `vietnamese_end_notice`: the applicant's last notice says the result in Vietnamese
  ("Hồ sơ …: đã giải quyết xong", not "…: approved"), and an end step without a title or
  `reason` gives the result's wording as the reason, not the step's id.
- `templates_read_fields`: automatic steps' argument templates, end steps' `reason` and forms
  (`dossier.fields`) see the officers' field values as `fields.STEP.FIELD`.
- `template_errors_end_dossier`: a template that fails at run time (an argument or an end
  step's reason, in any branch) fails the dossier at once with a located one-line message
  (`TemplateError: step … argument …: …`) instead of retrying the workflow task for ever.
- `signed_officers`: officers' updates carry the front door's signed assertion; validators
  verify it against workflow time with the keys the worker trusts (`workflows.signed`).
- `published_only`: the dossier's first act asks whether its procedure is published (a local
  activity, `activities.publication`); if not, it ends as stopped before any side effect.
- `proof_attempts`: wrong identity numbers from the applicant are counted by accepted updates;
  five in a row lock citizen actions for a while (`workflows.proof`).
- `delivers_notifications`: the applicant's notifications carry their recipient (`to`: the
  e-mail address on the email channel, the phone number on sms), so the activity delivers them
  through SMTP or the SMS gateway (`activities.delivery`) instead of only queuing them.
- `acting_for`: an officer may act for another under a delegation the signed assertion states
  (`acting_for` and its period); validators check the period against workflow time, the
  task's rules accept the delegate on the absent officer's claimed task, and the timeline says
  "X acting for Y" (`workflows.signed`). Without it an actor acting for anyone is refused.
- `reasoned_reassignment`: a reassignment's `reason` (a head redistributing an absent
  officer's work) is written into the timeline entry, not only into the update's input.
- `variable_time_limits`: a procedure's `time_limits` set the dossier's legal limit: the case
  that holds on the form at receipt (the receipt's appointment), then again after every
  officer's decision; a change moves the due instant, is recorded (`time_limit_changed`) and
  tells the applicant the new appointment.
- `citizen_steps`: a `citizen` step tells the applicant what to do and by when, stops the
  clock (by default) and waits for the applicant's `citizen_act` update (their identity
  number as proof) or its deadline; its `amounts` (a payment) are computed when it opens and
  told with their total, and its `event` completes it too.
- `computed_fees`: forms show each fee's `amount` computed from the application (`form`),
  instead of its fixed `amount_vnd`.
- `procedure_forms`: an `auto` step `render_form` issues a form the procedure defines itself
  (`forms` keyed by any identifier besides the fixed kinds).
- `templates_read_receipt`: argument templates and end steps' reasons read `received` (the day
  of receipt, `YYYY-MM-DD`) and `channel`, as conditions do.
- `pays_before_receipt`: a `start` citizen step with `before_receipt` (on the channels it names)
  runs before the dossier is received: no receipt, no clock, status "awaiting payment"; paid,
  the dossier is received then (receipt, appointment and clock from that instant); unpaid by
  its deadline, it ends at `on_timeout` without ever being received (`workflows.prepayment`).
- `repeats_steps`: a `repeat` step asks the applicant for a report once per period, `times`
  periods, counting reports and misses; `end_after_missed` misses in a row leave it at
  `on_missed` (`workflows.repeats`).
- `restarting_supplements`: with `supplement: {clock: restart}`, the applicant's supplement
  restarts the legal limit in full from its arrival (a `restart` ledger entry) instead of
  resuming it; the timeline records `clock_restarted` with why, and the applicant is told the
  new appointment (`workflows.clockrules`).
- `phase_limits`: a procedure's `phases` each get a clock of their own, started when the walk
  reaches one of the phase's steps and finished when it reaches a step outside it; suspensions
  stop it too, its due instant is watched (`phase_overdue`) and its end rated
  (`phase_started`, `phase_ended`: `workflows.clockrules`).
- `upserts_changed_only`: an upsert carries only the attributes whose value differs from what
  the run holds (`workflow.info().typed_search_attributes`: its start's and its upserts'),
  not every attribute again; visibility shows the same values, history keeps fewer.
- `received_at_on_receipt`: a dossier that pays before receipt gets its `ReceivedAt` search
  attribute when it is received (paid), upserted then, not its submission instant at the start:
  unpaid, it is not counted as received by the indicators, and never received, never.
"""

_V2: frozenset[Behaviour] = frozenset(
    {"one_dossier_timer", "coalesced_upserts", "halt_ends_walk", "updates_last"}
)

_V4: frozenset[Behaviour] = _V2 | {"tells_officers", "stops_runaway", "indicator_attributes"}

_V5: frozenset[Behaviour] = _V4 | {
    "whole_minute_clock",
    "vietnamese_end_notice",
    "templates_read_fields",
    "template_errors_end_dossier",
    "signed_officers",
    "published_only",
    "proof_attempts",
    "delivers_notifications",
    "acting_for",
    "reasoned_reassignment",
    "variable_time_limits",
    "citizen_steps",
    "computed_fees",
    "procedure_forms",
}

_V6: frozenset[Behaviour] = _V5 | {
    "templates_read_receipt",
    "pays_before_receipt",
    "repeats_steps",
    "restarting_supplements",
    "phase_limits",
    "upserts_changed_only",
}

BEHAVIOURS: Mapping[int, frozenset[Behaviour]] = {
    1: frozenset(),
    2: _V2,
    3: _V2 | {"tells_officers"},
    4: _V4,
    5: _V5,
    6: _V6,
    7: _V6 | {"received_at_on_receipt"},
}
"""Interpreter version -> the behaviours it has. Add a version, never change one: every golden
history of a version (tests/histories) must go on replaying."""


def behaviours(version: int) -> frozenset[Behaviour]:
    """The behaviours of interpreter `version`; an unknown version is a programming error."""
    try:
        return BEHAVIOURS[version]
    except KeyError:
        raise ValueError(f"no interpreter version {version}: known {sorted(BEHAVIOURS)}") from None


def has(version: int, behaviour: Behaviour) -> bool:
    """Whether dossiers of interpreter `version` have `behaviour`."""
    return behaviour in behaviours(version)
