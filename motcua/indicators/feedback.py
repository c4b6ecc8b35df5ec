"""Feedback handled on time (phản ánh, kiến nghị; a Decision 766 component), counted over the
dossiers of the catalogue's feedback procedures, which every other figure leaves out.

A feedback is a dossier of a feedback procedure (procedures/catalog/feedback.yaml): received at
the province's desk, routed to the agency concerned, answered within the procedure's limit on
the same clock as any dossier. So its on-time share needs no new attribute: `Timeliness` of
the feedback dossiers. An agency's row counts the feedback it had a step of (`Participants`:
received or answered it); the province's row counts each feedback once. Procedure rows have
none: what a feedback is about is in its encrypted form, never in a search attribute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from temporalio.client import Client

from motcua.indicators import figures
from motcua.indicators import queries as q
from motcua.indicators.scoring import feedback_procedures
from procedures.models import Procedure
from workflows import search_attributes as sa

ON_TIME = f"{sa.TIMELINESS.name} IN ('early', 'on_time')"
FIGURES = ("feedback_received", "feedback_ended", "feedback_on_time", "feedback_overdue")


def split(
    procedures: Iterable[Procedure], codes: Iterable[str] | None = None
) -> tuple[list[Procedure], tuple[str, ...]]:
    """The catalogue without its feedback procedures (for every other figure), and their codes;
    `codes` default to decision766.yaml's `feedback_procedures`."""
    channels = feedback_procedures() if codes is None else frozenset(codes)
    procs = list(procedures)
    return (
        [p for p in procs if p.code not in channels],
        tuple(sorted(p.code for p in procs if p.code in channels)),
    )


def queries(scope: q.Scope, codes: Sequence[str], agency: str | None) -> list[str]:
    """Received, ended (answered or declined), ended early or on time, open and overdue at the
    period's end: feedback of `codes`, those `agency` had a step of if given."""
    own = replace(scope, agency=None, procedure=None, sector=None, catalogue=tuple(codes))
    mine = [f"{sa.PARTICIPANTS.name} = {q.literal(agency)}"] if agency else []
    ended = [q.ended(own), figures.DECIDED]
    return [
        q.dossiers(own, *mine, q.received(own)),
        q.dossiers(own, *mine, *ended),
        q.dossiers(own, *mine, *ended, ON_TIME),
        q.dossiers(own, *mine, q.open_at(own.end), q.late_at(own.end)),
    ]


async def add(
    client: Client, rows: Sequence[figures.Row], scope: q.Scope, codes: Sequence[str]
) -> list[figures.Row]:
    """`rows` (a table, its total last) with their feedback figures: agency rows by the agency's
    steps, the total over the whole province (or `scope.agency`'s). Unchanged when there is no
    feedback procedure or the table is narrowed to a procedure or a sector, which feedback has
    no attribute for."""
    if not codes or not rows or scope.procedure or scope.sector:
        return list(rows)
    targets: list[tuple[int, str | None]] = [
        (i, r.agency) for i, r in enumerate(rows[:-1]) if r.agency and not r.procedure
    ]
    targets.append((len(rows) - 1, scope.agency))
    asked = [x for _, agency in targets for x in queries(scope, codes, agency)]
    counts = await figures.count_all(client, asked)
    out = list(rows)
    for n, (i, _) in enumerate(targets):
        got = counts[n * len(FIGURES) : (n + 1) * len(FIGURES)]
        out[i] = out[i].model_copy(update=dict(zip(FIGURES, got, strict=True)))
    return out
