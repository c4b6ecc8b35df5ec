"""The visibility queries behind each figure: one scope (who, what, when) and its clauses.

A dossier is counted once, by its receiving agency: sub-procedures run as child workflows
and are left out of the dossier counts (`ParentWorkflowId IS NULL`); a participating agency's
own steps are counted over every dossier workflow, children included (`Participants`).
A run that continued as new is left out: its successor carries the same attributes.

On the embedded server's SQLite visibility every attribute has an index, and every index is
(namespace, attribute, close time, start time, run id); SQLite has no statistics to choose among
them, and a count reads the table row (and parses its attributes' JSON) for every index entry it
visits. So each count is steered to one index on purpose (BENCHMARKS.md measures it): the row's
agency, procedure or sector (`Scope.filters`, the one clause left indexed), narrowed by the close
time where the figure bounds it (`CloseTime` comes next in the index: ended in a period). Every
other clause is written `unindexed`, which SQLite cannot look up in an index at all. (A running
workflow's close time reads as 9999-12-31 in SQL visibility but is absent on Elasticsearch, so
"running or ended since" stays written out, not as a close time range.)
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


NEVER = "StartTime < '1970-01-02T00:00:00Z'"
"""False for every workflow (none started before 1970), on the start time, which no index can
look up alone: it comes after the close time in every index. (The close time would not do:
it is every index's second column, and SQLite then reads `x OR CloseTime < ...` as a union of
two index lookups, `x`'s over the whole province.)"""


def unindexed(clause: str) -> str:
    """`clause` unchanged in meaning, but out of SQLite's choice of index: an OR with a term
    no index serves cannot be looked up in one (see the module's docstring)."""
    return f"({clause} OR {NEVER})"


ALIVE = "ExecutionStatus != 'ContinuedAsNew'"
RUNNING = "ExecutionStatus = 'Running'"
COMPLETED = unindexed("ExecutionStatus = 'Completed'")
UNDIVIDED = unindexed("TemporalNamespaceDivision IS NULL")
"""What the server adds to a query that does not say it (workflows, not other kinds of
executions), said here so that it is not looked up: as `IS NULL` SQLite takes it for an
equality, and may scan its index, every workflow of the namespace."""
DOSSIER = unindexed(f"WorkflowType = '{DOSSIER_WORKFLOW}'")
TOP_LEVEL = unindexed("ParentWorkflowId IS NULL")


def dossiers(scope: Scope, *clauses: str) -> str:
    """Top-level dossiers of `scope` (not sub-procedures) matching `clauses`."""
    return " AND ".join([UNDIVIDED, DOSSIER, TOP_LEVEL, ALIVE, *scope.filters(), *clauses])


def looked_up_by(key: str, scope: Scope, *clauses: str) -> str:
    """Like `dossiers`, but looked up by `key`'s index, the scope's filters and `clauses`
    unindexed: for a count whose own clause selects fewer dossiers than the row's."""
    others = [*scope.filters(), *clauses]
    return " AND ".join([UNDIVIDED, DOSSIER, TOP_LEVEL, ALIVE, *map(unindexed, others), key])


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
        f"AND CloseTime < {instant(scope.end)} AND {unindexed(f'{sa.RESULT.name} IS NOT NULL')} "
        f"AND {unindexed(f'{sa.RECEIVED_AT.name} IS NOT NULL')}"
    )


def open_at(at: datetime) -> str:
    """Received before `at` and not ended by then. The status and close time (columns) are
    tested first, the receipt instant (a Datetime parsed from text for each dossier) last."""
    before = unindexed(f"{sa.RECEIVED_AT.name} < {instant(at)}")
    return f"{unindexed(f'{RUNNING} OR CloseTime >= {instant(at)}')} AND {before}"


def flag(key: str) -> str:
    """A Bool attribute set true."""
    return unindexed(f"{key} = true")


def late_at(at: datetime) -> str:
    """Of those open at `at`: overdue now if still running, ended late if ended since."""
    return unindexed(
        f"({RUNNING} AND {sa.OVERDUE.name} = true) OR "
        f"(CloseTime >= {instant(at)} AND {sa.TIMELINESS.name} = 'late')"
    )


def rated(scope: Scope, procedures: Sequence[str], stars: int) -> str:
    """Ratings of `stars` given in the period to dossiers of `procedures`: steered to the
    rating workflows (the type's index), not to the procedures' dossiers."""
    codes = ", ".join(map(literal, procedures))
    period = f"StartTime >= {instant(scope.start)} AND StartTime < {instant(scope.end)}"
    return (
        f"{UNDIVIDED} AND WorkflowType = '{RATING_WORKFLOW}' AND {period} "
        f"AND {unindexed(f'{sa.PROCEDURE_CODE.name} IN ({codes})')} "
        f"AND {unindexed(f'{sa.RATING.name} = {stars}')}"
    )


def participated(scope: Scope, agency: str, late: bool = False) -> str:
    """Dossier workflows (children too) ended in the period where `agency` had a task: looked
    up by the agency's steps (a full-text index), not by the period (every agency's)."""
    value = agency + (sa.LATE_SUFFIX if late else "")
    parts = [
        UNDIVIDED,
        DOSSIER,
        ALIVE,
        unindexed(ended(scope)),
        f"{sa.PARTICIPANTS.name} = {literal(value)}",
    ]
    parts += [f for f in scope.filters() if not f.startswith(sa.RECEIVING_AGENCY.name)]
    return " AND ".join(parts)
