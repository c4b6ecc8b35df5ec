"""The officers' task actions, one home for the pages and the JSON API.

Each action is a client operation still waiting for who acts (`Operation`); a page builds it
from its form, an API handler from its body, and `perform` runs it as the signed-in officer,
with their actor and the front door's signed assertion. The workflow's validators decide the
rest; how a refusal is shown is the caller's (a page re-rendered, a problem detail).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from temporalio.client import Client

from motcua import client
from motcua.web.auth import Officer
from motcua.web.context import Web
from workflows.api import Actor

Operation = Callable[[Client, Actor, str], Awaitable[client.Acted]]
"""(Temporal client, actor, signed assertion) -> what the workflow answered."""


async def perform(web: Web, officer: Officer, operation: Operation) -> client.Acted:
    """Run the action as the signed-in officer: exactly the actor their assertion was signed for."""
    return await operation(web.client(), officer.actor(), officer.assertion)


def claim(code: str, step: str) -> Operation:
    def run(temporal: Client, actor: Actor, signed: str) -> Awaitable[client.Acted]:
        return client.claim(temporal, code, step, actor, assertion=signed)

    return run


def complete(code: str, step: str, decision: str, fields: Mapping[str, Any]) -> Operation:
    def run(temporal: Client, actor: Actor, signed: str) -> Awaitable[client.Acted]:
        return client.complete(temporal, code, step, actor, decision, fields, assertion=signed)

    return run


def reassign(code: str, step: str, to_user: str | None, to_role: str | None) -> Operation:
    def run(temporal: Client, actor: Actor, signed: str) -> Awaitable[client.Acted]:
        return client.reassign(temporal, code, step, actor, to_user, to_role, assertion=signed)

    return run


def request_supplement(code: str, step: str, missing: Sequence[str], reason: str) -> Operation:
    def run(temporal: Client, actor: Actor, signed: str) -> Awaitable[client.Acted]:
        return client.request_supplement(
            temporal, code, step, actor, missing, reason, assertion=signed
        )

    return run


def approve_apology(code: str, reason: str) -> Operation:
    def run(temporal: Client, actor: Actor, signed: str) -> Awaitable[client.Acted]:
        return client.approve_apology(temporal, code, actor, reason, assertion=signed)

    return run
