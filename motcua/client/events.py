"""External events a `wait` step waits for (a payment confirmed, the couple came and signed),
delivered by whoever stands for the outside world: a bank's hook, an officer, a script."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.client import Client

from motcua.client.dossier import act, update_input
from motcua.client.views import Acted
from workflows.api import DELIVER_EVENT, Actor, DeliverEvent


async def deliver_event(
    client: Client, code: str, event: str, actor: Actor, data: Mapping[str, Any] | None = None
) -> Acted:
    """Deliver `event` to the dossier; refused unless one of its waits is waiting for it."""
    request = update_input(DeliverEvent, event=event, actor=actor, data=dict(data or {}))
    return await act(client, code, DELIVER_EVENT, request)
