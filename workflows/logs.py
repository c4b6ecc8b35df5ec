"""structlog from workflow code, silent while Temporal replays a history.

A workflow's code runs again on every replay (a worker restart, an audit); its log lines must
not come out twice.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import structlog


def log(event: str, **fields: Any) -> None:
    """Log through structlog, but never again while Temporal replays the history."""
    if not workflow.unsafe.is_replaying():
        structlog.get_logger("motcua.workflow").info(event, **fields)
