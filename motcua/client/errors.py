"""What can go wrong in a client call, as user errors, and Temporal's errors turned into them."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from runtime.connection import ServerUnreachable
from runtime.errors import UserError

CALL_TIMEOUT = timedelta(seconds=20)
"""How long a query or update waits for a worker before the caller is told none answers."""

T = TypeVar("T")


class DossierNotFound(UserError):
    """No dossier has this code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"no dossier {code!r}")
        self.code = code


class UpdateRejected(UserError):
    """The workflow refused an action; `reason` is the validator's message, meant for people."""

    def __init__(self, code: str, action: str, reason: str) -> None:
        super().__init__(f"{action} on {code} rejected: {reason}")
        self.code, self.action, self.reason = code, action, reason


class NoWorker(UserError):
    """The server answers but no worker picks the dossier's work up in time."""

    def __init__(self, code: str) -> None:
        super().__init__(
            f"no worker answered for {code} within {int(CALL_TIMEOUT.total_seconds())}s "
            "(is `motcua dev` or worker.py running?)"
        )


class NotReady(UserError):
    """The dossier's workflow cannot answer now (its workflow task is failing or retried)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"dossier {code} cannot answer now: {detail}")


class InvalidRequest(UserError):
    """The request itself is malformed (an empty list, an unknown channel...)."""


async def guard(client: Client, code: str, action: str, call: Awaitable[T]) -> T:
    """Turn Temporal's errors into the user errors this module promises."""
    try:
        return await call
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        reason = getattr(cause, "message", None) or str(cause or err)
        raise UpdateRejected(code, action, reason) from None
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            if "already completed" in err.message:
                raise UpdateRejected(code, action, "the dossier is closed") from None
            raise DossierNotFound(code) from None
        if err.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
            raise NoWorker(code) from None
        if err.status is RPCStatusCode.FAILED_PRECONDITION:
            raise NotReady(code, err.message) from None
        if err.status is RPCStatusCode.UNAVAILABLE:
            raise ServerUnreachable(client.service_client.config.target_host) from None
        raise


async def visibility_errors(client: Client, call: Awaitable[T]) -> T:
    """Turn a visibility call's errors into user errors."""
    try:
        return await call
    except RPCError as err:
        if err.status is RPCStatusCode.UNAVAILABLE:
            raise ServerUnreachable(client.service_client.config.target_host) from None
        if err.status is RPCStatusCode.INVALID_ARGUMENT:
            raise UserError(f"the server refused the inbox query: {err.message}") from None
        raise
