"""Custom search attributes: what officers' inboxes and auditors' queries select on.

None of them holds personal data (search attributes are not encrypted): only codes, statuses,
roles, instants and the interpreter version. `motcua dev` registers them when it starts the
embedded server. Their values are a pure function of the dossier's state (`values`), so the
workflow only decides when to upsert them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

from procedures.legaltime.clock import DossierClock
from procedures.models import Procedure
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

ALL: tuple[SearchAttributeKey, ...] = (
    PROCEDURE_CODE,
    PORTAL_STATUS,
    PENDING_AGENCIES,
    PENDING_ROLES,
    NEXT_DUE_AT,
    OVERDUE,
    INTERPRETER_VERSION,
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
