"""Operators' counters from workflow code, through Temporal's own meter.

`workflow.metric_meter()` records nothing while a history replays, so a dossier counted once
stays counted once after a worker restart or an audit. The worker exports them with the SDK's
metrics (its Prometheus endpoint, `worker.py --metrics-port`). Labels are codes only: no
dossier code (unbounded) and nothing personal.
"""

from __future__ import annotations

import re

from temporalio import workflow

_NOISE = re.compile(r"'[^']*'|\([^)]*\)|\S*\d\S*|[^\w\s]")


def reason_label(message: str) -> str:
    """A rejection message without its particulars (steps, names, numbers): few values."""
    text = _NOISE.sub("", message.split(":")[0])
    return " ".join(text.split())[:60] or "other"


def _add(name: str, description: str, labels: dict[str, str]) -> None:
    counter = workflow.metric_meter().create_counter(name, description)
    counter.add(1, labels)


def dossier_started(procedure: str) -> None:
    _add("motcua_dossiers_started", "Dossiers received", {"procedure": procedure})


def dossier_finished(procedure: str, result: str, timeliness: str) -> None:
    _add(
        "motcua_dossiers_finished",
        "Dossiers ended, by result and early/on_time/late",
        {"procedure": procedure, "result": result, "timeliness": timeliness},
    )


def task_opened(agency: str, role: str) -> None:
    _add("motcua_tasks_opened", "Officers' tasks opened", {"agency": agency, "role": role})


def task_overdue(agency: str, role: str) -> None:
    _add(
        "motcua_tasks_overdue",
        "Officers' tasks that ran past their share",
        {"agency": agency, "role": role},
    )


def update_rejected(update: str, message: str) -> None:
    _add(
        "motcua_update_rejections",
        "Updates refused by a validator, by update and reason",
        {"update": update, "reason": reason_label(message)},
    )
