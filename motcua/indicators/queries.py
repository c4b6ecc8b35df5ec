"""The visibility queries behind each figure: one scope (who, what, when) and its clauses.

A dossier is counted once, by its receiving agency: sub-procedures run as child workflows
and are left out of the dossier counts (`ParentWorkflowId IS NULL`); a participating agency's
own steps are counted over every dossier workflow, children included (`Participants`).
A run that continued as new is left out: its successor carries the same attributes.

On the embedded server's SQLite visibility every attribute has an index, but SQLite has no
statistics to choose among them: given `ReceivingAgency = X AND ReceivedAt >= T`, it scans the
`ReceivedAt` index, every dossier of the period, rather than the agency's. Clauses that select
most dossiers (a period, a status, a flag, the catalogue) are therefore written `unindexed`, so
that a count scans the dossiers of its agency or procedure (BENCHMARKS.md measures both).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from runtime.errors import UserError
from workflows import search_attributes as sa
from workflows.api import DOSSIER_WORKFLOW, RATING_WORKFLOW

_KEYWORD = re.compile(r"^[^'\"\\\x00-\x1f]{1,100}$")
"""Codes and sector names as they may appear in a query: no quote or backslash slips in."""


def literal(value: str) -> str:
    """A keyword as a quoted query literal; quotes, backslashes and control characters are
    refused, and so is anything longer than 100 characters."""
    if not _KEYWORD.match(value):
        raise UserError(f"invalid code {value[:100]!r}: no quotes, backslashes, 1-100 characters")
    return f"'{value}'"


def instant(at: datetime) -> str:
    return f"'{at.isoformat()}'"


@dataclass(frozen=True)
class Scope:
    """Which dossiers a row counts: a period [start, end) and optional filters."""

    start: datetime
    end: datetime
    agency: str | None = None
    procedure: str | None = None
    sector: str | None = None
    catalogue: tuple[str, ...] = ()
    """Without `procedure`, only these procedures (the catalogue's), if given."""

    def __post_init__(self) -> None:
        for value in (self.agency, self.procedure, self.sector, *self.catalogue):
            if value is not None:
                literal(value)

    def filters(self) -> list[str]:
        out = []
        if self.catalogue and not self.procedure:
            codes = ", ".join(map(literal, self.catalogue))
            out.append(unindexed(f"{sa.PROCEDURE_CODE.name} IN ({codes})"))
        if self.agency:
            out.append(f"{sa.RECEIVING_AGENCY.name} = {literal(self.agency)}")
        if self.procedure:
            out.append(f"{sa.PROCEDURE_CODE.name} = {literal(self.procedure)}")
        if self.sector:
            out.append(f"{sa.SECTOR.name} = {literal(self.sector)}")
        return out


NEVER = "CloseTime < '1970-01-02T00:00:00Z'"
"""False for every workflow (none closed before 1970), on a column SQLite has no index on."""


def unindexed(clause: str) -> str:
    """`clause` unchanged in meaning, but out of SQLite's choice of index: an OR with a term
    no index serves cannot be looked up in one (see the module's docstring)."""
    return f"({clause} OR {NEVER})"


ALIVE = "ExecutionStatus != 'ContinuedAsNew'"
RUNNING = "ExecutionStatus = 'Running'"
COMPLETED = unindexed("ExecutionStatus = 'Completed'")


def dossiers(scope: Scope, *clauses: str) -> str:
    """Top-level dossiers of `scope` (not sub-procedures) matching `clauses`."""
    parts = [
        f"WorkflowType = '{DOSSIER_WORKFLOW}'",
        "ParentWorkflowId IS NULL",
        ALIVE,
        *scope.filters(),
        *clauses,
    ]
    return " AND ".join(parts)


def received(scope: Scope, by_period: bool = False) -> str:
    """Received in the period (the counter's receipt instant). `by_period` leaves SQLite free
    to scan the period's dossiers: the better choice for a day without an agency (a trend)."""
    clause = (
        f"{sa.RECEIVED_AT.name} >= {instant(scope.start)} "
        f"AND {sa.RECEIVED_AT.name} < {instant(scope.end)}"
    )
    return clause if by_period else unindexed(clause)


def ended(scope: Scope) -> str:
    """Ended in the period with a recorded result (interpreter 4 on), having been received: a
    dossier that was to pay before receipt and never did has no `ReceivedAt` (interpreter 7)
    and was never the agency's to handle."""
    return (
        f"{COMPLETED} AND CloseTime >= {instant(scope.start)} "
        f"AND CloseTime < {instant(scope.end)} AND {sa.RESULT.name} IS NOT NULL "
        f"AND {unindexed(f'{sa.RECEIVED_AT.name} IS NOT NULL')}"
    )


def open_at(at: datetime) -> str:
    """Received before `at` and not ended by then."""
    before = unindexed(f"{sa.RECEIVED_AT.name} < {instant(at)}")
    return f"{before} AND ({RUNNING} OR CloseTime >= {instant(at)})"


def flag(key: str) -> str:
    """A Bool attribute set true: true for most dossiers, so never the index scanned."""
    return unindexed(f"{key} = true")


def late_at(at: datetime) -> str:
    """Of those open at `at`: overdue now if still running, ended late if ended since."""
    return (
        f"(({RUNNING} AND {sa.OVERDUE.name} = true) OR "
        f"(CloseTime >= {instant(at)} AND {sa.TIMELINESS.name} = 'late'))"
    )


def rated(scope: Scope, procedures: Sequence[str], stars: int) -> str:
    """Ratings of `stars` given in the period to dossiers of `procedures`."""
    codes = ", ".join(map(literal, procedures))
    return (
        f"WorkflowType = '{RATING_WORKFLOW}' AND StartTime >= {instant(scope.start)} "
        f"AND StartTime < {instant(scope.end)} AND {sa.PROCEDURE_CODE.name} IN ({codes}) "
        f"AND {sa.RATING.name} = {stars}"
    )


def participated(scope: Scope, agency: str, late: bool = False) -> str:
    """Dossier workflows (children too) ended in the period where `agency` had a task."""
    value = agency + (sa.LATE_SUFFIX if late else "")
    parts = [
        f"WorkflowType = '{DOSSIER_WORKFLOW}'",
        ALIVE,
        ended(scope),
        f"{sa.PARTICIPANTS.name} = {literal(value)}",
    ]
    parts += [f for f in scope.filters() if not f.startswith(sa.RECEIVING_AGENCY.name)]
    return " AND ".join(parts)
