"""The notices officers get about their tasks (interpreter 3): payloads only, no I/O.

A reminder goes to the role holding the task. When its time runs out, that role is told the
task is overdue and, if the step escalates, the role it is handed to is told too: the first
must know it may no longer decide, the second that it now must. The ids derive from the
dossier code and its sequence, as the applicant's notifications' do, so the outbox writes
each notice once however often the activity is retried or the history replayed.
"""

from __future__ import annotations

from datetime import datetime

from activities.payloads import OfficerNotice, OfficerNoticeKind, OfficerNotices
from workflows.api import DossierInput
from workflows.state import Task


def reminder(
    inp: DossierInput, seq: int, task: Task, share: float, due: datetime, at: datetime
) -> OfficerNotices:
    """The reminder to the role holding `task`, `share` of its time used."""
    kind = OfficerNoticeKind.REMINDER
    return OfficerNotices(notices=(_notice(inp, seq, task, kind, task.role, due, at, share),))


def overdue(
    inp: DossierInput, seq: int, task: Task, late_role: str, due: datetime, at: datetime
) -> OfficerNotices:
    """`late_role` told its task is overdue; the role it was escalated to (`task.role`, when
    it differs) told that it now holds the task."""
    notices = [_notice(inp, seq, task, OfficerNoticeKind.OVERDUE, late_role, due, at)]
    if task.role != late_role:
        kind = OfficerNoticeKind.ESCALATED
        notices.append(_notice(inp, seq, task, kind, task.role, due, at, escalated_from=late_role))
    return OfficerNotices(notices=tuple(notices))


def _notice(
    inp: DossierInput,
    seq: int,
    task: Task,
    kind: OfficerNoticeKind,
    role: str,
    due: datetime,
    at: datetime,
    share: float | None = None,
    escalated_from: str | None = None,
) -> OfficerNotice:
    return OfficerNotice(
        notice_id=f"{inp.code}:o{seq}:{kind.value}",
        dossier_code=inp.code,
        procedure_code=inp.procedure.procedure.code,
        step=task.step,
        agency=task.agency,
        role=role,
        kind=kind,
        share=share,
        escalated_from=escalated_from,
        due=due,
        at=at,
    )
