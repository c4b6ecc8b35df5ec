"""Custom search attributes: what officers' inboxes and auditors' queries select on.

None of them holds personal data (search attributes are not encrypted): only codes, statuses,
roles, instants and the interpreter version. `motcua dev` registers them when it starts the
embedded server. Their values are a pure function of the dossier's state (`values`), so the
workflow only decides when to upsert them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from procedures.legaltime.calendar import WorkCalendar
from procedures.legaltime.clock import DossierClock
from procedures.models import Channel, Procedure
from workflows.state import Runtime

PROCEDURE_CODE = SearchAttributeKey.for_keyword("ProcedureCode")
PORTAL_STATUS = SearchAttributeKey.for_int("PortalStatus")
PENDING_AGENCIES = SearchAttributeKey.for_keyword_list("PendingAgencies")
PENDING_ROLES = SearchAttributeKey.for_keyword_list("PendingRoles")
NEXT_DUE_AT = SearchAttributeKey.for_datetime("NextDueAt")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
INTERPRETER_VERSION = SearchAttributeKey.for_int("InterpreterVersion")
"""Set by the client when it starts a dossier (children inherit their parent's), never upserted
by the workflow: `motcua interpreters` counts open dossiers per version with it."""

# Indicators (docs/indicators.md). The embedded server's SQL visibility has 3 slots per type
# except Keyword (10): Bool, Datetime, Double, Int and KeywordList are full or nearly so.
# Set by the client at the start (`at_start`; children inherit their parent's):
RECEIVING_AGENCY = SearchAttributeKey.for_keyword("ReceivingAgency")
SECTOR = SearchAttributeKey.for_keyword("Sector")
CHANNEL = SearchAttributeKey.for_keyword("Channel")
RECEIVED_AT = SearchAttributeKey.for_datetime("ReceivedAt")
"""The receipt instant (the counter's), kept across continue-as-new, unlike StartTime."""
DIGITISED = SearchAttributeKey.for_bool("Digitised")
"""Every submitted document may be kept as a digitised copy (the procedure's
`digitised_accepted`): the desk scans the dossier whole."""
# Upserted by the dossier under the `indicator_attributes` behaviour (`indicator_updates`):
RESULT = SearchAttributeKey.for_keyword("Result")
TIMELINESS = SearchAttributeKey.for_keyword("Timeliness")
"""early / on_time / late of the ended dossier, as the portal counts it (its clock)."""
PROCESSING_DAYS = SearchAttributeKey.for_float("ProcessingDays")
"""Working days the ended dossier's clock counted (suspensions excluded), to 0.01 day."""
SUPPLEMENTS = SearchAttributeKey.for_float("Supplements")
"""Requests to supplement so far (a whole number; Double because the Int slots are full)."""
APOLOGIES = SearchAttributeKey.for_float("Apologies")
"""Apology letters approved so far (a whole number, Double for the same reason)."""
PAID_ONLINE = SearchAttributeKey.for_bool("PaidOnline")
"""A payment event arrived with `"method": "online"` in its data."""
PARTICIPANTS = SearchAttributeKey.for_keyword_list("Participants")
"""Who took part, three kinds of value in one list (the KeywordList slots are scarce):
`AGENCY` for every agency with a task, `AGENCY:late` for one with a late task, and
`user@AGENCY` for every officer who decided a task (officers' ids, never names)."""
RATING = SearchAttributeKey.for_int("Rating")
"""The applicant's satisfaction, 1-5, on the dossier's rating workflow (issue 17), not on the
dossier: a finished dossier takes no update."""

INDICATORS: tuple[SearchAttributeKey, ...] = (
    RECEIVING_AGENCY,
    SECTOR,
    CHANNEL,
    RECEIVED_AT,
    DIGITISED,
    RESULT,
    TIMELINESS,
    PROCESSING_DAYS,
    SUPPLEMENTS,
    APOLOGIES,
    PAID_ONLINE,
    PARTICIPANTS,
    RATING,
)

ALL: tuple[SearchAttributeKey, ...] = (
    PROCEDURE_CODE,
    PORTAL_STATUS,
    PENDING_AGENCIES,
    PENDING_ROLES,
    NEXT_DUE_AT,
    OVERDUE,
    INTERPRETER_VERSION,
    *INDICATORS,
)


def pending_role(agency_code: str, role: str) -> str:
    """The PendingRoles value for a role of an agency, e.g. `000.00.09.H26/head`."""
    return f"{agency_code}/{role}"


class Values(NamedTuple):
    """The upserted values of a dossier; compared with the last upsert to skip repeats."""

    status: int
    agencies: tuple[str, ...]
    roles: tuple[str, ...]
    due: datetime
    overdue: bool


def values(
    rt: Runtime,
    proc: Procedure,
    receiving_agency: str,
    ended: bool,
    now: datetime,
    due_of: Callable[[DossierClock], datetime],
) -> Values:
    """The search-attribute values of a dossier in state `rt` at `now`.

    Pending roles are the open tasks' and, while an apology letter awaits approval, the
    receiving agency head's; an ended dossier has none. `due_of` derives a clock's due instant.
    """
    open_tasks = rt.open_tasks()
    roles = {pending_role(t.agency, t.role) for t in open_tasks}
    apology = rt.apology
    if apology is not None and apology.approved_by is None and proc.apology:
        roles.add(pending_role(receiving_agency, proc.apology.role))
    if ended:
        roles = set()
        open_tasks = []
    dossier_due = due_of(rt.clock)
    due = min((due_of(t.clock) for t in open_tasks), default=dossier_due)
    overdue = not ended and (any(t.overdue for t in open_tasks) or now > dossier_due)
    return Values(
        status=rt.status.value,
        agencies=tuple(sorted({r.split("/")[0] for r in roles})),
        roles=tuple(sorted(roles)),
        due=due,
        overdue=overdue,
    )


def updates(procedure_code: str, v: Values) -> list[SearchAttributeUpdate]:
    """The upsert of `v` (the procedure code with it, as every upsert so far has carried)."""
    return [
        PROCEDURE_CODE.value_set(procedure_code),
        PORTAL_STATUS.value_set(v.status),
        PENDING_AGENCIES.value_set(list(v.agencies)),
        PENDING_ROLES.value_set(list(v.roles)),
        NEXT_DUE_AT.value_set(v.due),
        OVERDUE.value_set(v.overdue),
    ]


def changed(
    updates: list[SearchAttributeUpdate], held: TypedSearchAttributes
) -> list[SearchAttributeUpdate]:
    """The `updates` that change what the run `held`s (`upserts_changed_only`).

    Visibility keeps an attribute until it is upserted again, so an unchanged one is only
    history bytes and replay work; an unset (value None) of an attribute not held is one too.
    """
    by_key = {key: value for key, value in held}  # one pass, not a scan per update
    return [u for u in updates if by_key.get(u.key) != u.value]


def at_start(
    proc: Procedure, channel: Channel, received_at: datetime | None, documents: tuple[str, ...]
) -> list[SearchAttributePair[Any]]:
    """The indicator attributes a dossier is started with: known at receipt, never upserted,
    but `ReceivedAt` of a dossier not received yet (None: it pays first, and the workflow
    upserts it at payment, `received_at_on_receipt`)."""
    accepted = {d.id for d in proc.documents if d.digitised_accepted}
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(RECEIVING_AGENCY, proc.agencies[proc.receiving_agency].code),
        SearchAttributePair(SECTOR, proc.sector),
        SearchAttributePair(CHANNEL, channel.value),
        SearchAttributePair(DIGITISED, bool(documents) and set(documents) <= accepted),
    ]
    if received_at is not None:
        pairs.insert(3, SearchAttributePair(RECEIVED_AT, received_at))
    return pairs


LATE_SUFFIX = ":late"


class Indicators(NamedTuple):
    """The indicator values a version-4 dossier upserts, compared with the last upsert too."""

    result: str | None
    timeliness: str | None
    processing_days: float | None
    supplements: int
    apologies: int
    paid_online: bool
    participants: tuple[str, ...]


def indicators(rt: Runtime, cal: WorkCalendar, now: datetime) -> Indicators:
    """The indicator values of a dossier in state `rt`; result and times only once ended."""
    ended = rt.result is not None and rt.clock.finished_at is not None
    people: set[str] = set()
    for t in rt.tasks:
        people.add(t.agency)
        if t.on_time == "late" or t.overdue:
            people.add(t.agency + LATE_SUFFIX)
        if t.closed_by:
            people.add(t.closed_by.rpartition("/")[0] or t.closed_by)
    per_day = rt.clock.hours.day_minutes
    return Indicators(
        result=rt.result.value if ended and rt.result else None,
        timeliness=rt.clock.status(cal).value if ended else None,
        processing_days=round(rt.clock.used(cal, now) / per_day, 2) if ended else None,
        supplements=sum(1 for e in rt.timeline if e.kind == "supplement_requested"),
        apologies=sum(1 for e in rt.timeline if e.kind == "extended"),
        paid_online=any(data.get("method") == "online" for data in rt.events.values()),
        participants=tuple(sorted(people)),
    )


def indicator_updates(v: Indicators) -> list[SearchAttributeUpdate]:
    """The upsert of `v`; result, timeliness and time appear once the dossier has ended."""
    out: list[SearchAttributeUpdate] = [
        SUPPLEMENTS.value_set(float(v.supplements)),
        APOLOGIES.value_set(float(v.apologies)),
        PAID_ONLINE.value_set(v.paid_online),
        PARTICIPANTS.value_set(list(v.participants)),
    ]
    if v.result is not None and v.timeliness is not None and v.processing_days is not None:
        out += [
            RESULT.value_set(v.result),
            TIMELINESS.value_set(v.timeliness),
            PROCESSING_DAYS.value_set(v.processing_days),
        ]
    return out
