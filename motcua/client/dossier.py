"""One dossier reached from outside: its `state` query, and an update with its answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowHandle

from motcua.client.errors import CALL_TIMEOUT, InvalidRequest, guard
from motcua.client.views import Acted
from procedures.text import depth_problem
from workflows.api import STATE, DossierState


async def show(client: Client, code: str) -> DossierState:
    """The dossier's whole state (timeline, documents, clock), from the `state` query."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(code)
    return await guard(
        client,
        code,
        "state",
        handle.query(STATE, result_type=DossierState, rpc_timeout=CALL_TIMEOUT),
    )


def update_input(model: type[BaseModel], **data: Any) -> BaseModel:
    """Build an update's input; a malformed one is the caller's mistake, said in one line."""
    for name, value in data.items():
        too_deep = depth_problem(value)
        if too_deep is not None:
            raise InvalidRequest(f"{name}: {too_deep}")
    try:
        return model(**data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidRequest(f"{where}: {first['msg']}") from None


async def act(client: Client, code: str, update: str, body: BaseModel) -> Acted:
    """Run `update` on the dossier; its answer, or the user error saying why not."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(code)
    message = await guard(
        client,
        code,
        update,
        handle.execute_update(update, body, result_type=str, rpc_timeout=CALL_TIMEOUT),
    )
    return Acted(code=code, action=update, message=message)
