"""How workflow code runs, for workers and replayers alike: the sandbox and the runner.

Workers and replayers must agree on this, or a history would not replay.
"""

from __future__ import annotations

from temporalio.worker import WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from runtime.ordering import UpdatesLastRunner
from workflows.api import updates_last

SANDBOX_RESTRICTIONS = SandboxRestrictions.default.with_passthrough_modules(
    "procedures",
    "workflows.api",
    "workflows.search_attributes",
    "activities",
    "identity",
    "jwt",
    "cryptography",
    "pydantic",
    "pydantic_core",
    "jinja2",
    "markupsafe",
    "structlog",
)
"""Deterministic, side-effect-free modules workflow code may share with the host instead of
re-importing them for every workflow run (faster, and pydantic classes stay identical)."""


def workflow_runner(sandbox: WorkflowRunner | None = None) -> WorkflowRunner:
    """How workers and replayers run workflow code: in the sandbox (`sandbox`, by default with
    `SANDBOX_RESTRICTIONS`), and for dossiers that opted in at their start, with updates after
    the other jobs of an activation (`runtime.ordering`)."""
    inner = sandbox or SandboxedWorkflowRunner(restrictions=SANDBOX_RESTRICTIONS)
    return UpdatesLastRunner(inner, updates_last)
