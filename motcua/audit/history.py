"""Where auditors get histories from: the Temporal server, or JSON files kept elsewhere.

A dossier that continued-as-new has one history per run; `fetch_runs` follows the chain back
from the latest run so that a trail or a replay covers the whole life of the dossier. Every
failure an auditor can fix (a typo in a code, a server that is down, a damaged file) becomes a
`UserError` or a `HistoryError` with one line that says what and where.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import PayloadCodec
from temporalio.service import RPCError, RPCStatusCode

from runtime.codec import decode_messages
from runtime.connection import PAYLOAD_CONVERTER
from runtime.errors import UserError
from runtime.keyring import KeysUnavailable
from workflows.api import DossierInput

STARTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
_CONVERT = PAYLOAD_CONVERTER


def decode(payloads: Any, kind: type[Any]) -> Any:
    """One payload decoded into `kind` with the worker's pydantic data converter."""
    return _CONVERT.from_payloads(list(payloads.payloads), [kind])[0]


class HistoryError(Exception):
    """One history cannot be read or fetched: `label` names it, `reason` says why."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"{label}: {reason}")
        self.label, self.reason = label, reason


MAX_HISTORY_FILE = 200 << 20
"""Bytes of a history file read: Temporal ends a run at 50 MB of history, which its JSON
export at most triples; a device or a runaway file stops here instead of filling memory."""


@dataclass(frozen=True)
class Source:
    """A history with a label for reports: the dossier code and run, or the file it came from."""

    label: str
    history: WorkflowHistory


def read_file(path: Path) -> Source:
    """A history written by `temporal workflow show --output json` or `WorkflowHistory.to_json`."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_HISTORY_FILE + 1)
        if len(data) > MAX_HISTORY_FILE:
            raise HistoryError(str(path), f"more than {MAX_HISTORY_FILE >> 20} MiB")
        raw = json.loads(data.decode("utf-8"))
        history = WorkflowHistory.from_json(path.stem, raw)
    except OSError as err:
        raise HistoryError(str(path), f"cannot read: {err.strerror or err}") from err
    except HistoryError:
        raise
    except Exception as err:  # json, protobuf and shape errors all mean the same to a user
        raise HistoryError(str(path), f"not a Temporal history JSON: {_first_line(err)}") from err
    check(history, str(path))
    return Source(str(path), WorkflowHistory(workflow_id_of(history) or path.stem, history.events))


def check(history: WorkflowHistory, label: str) -> None:
    """Refuse a history the replayer would choke on (its worker dies on a bad first event)."""
    if not history.events:
        raise HistoryError(label, "the history has no events")
    first = history.events[0]
    if first.event_type != STARTED or not first.HasField(
        "workflow_execution_started_event_attributes"
    ):
        raise HistoryError(label, "the first event is not WorkflowExecutionStarted")
    ids = [e.event_id for e in history.events]
    if ids != list(range(1, len(ids) + 1)):
        raise HistoryError(label, f"event ids are not 1..{len(ids)} in order")


def workflow_id_of(history: WorkflowHistory) -> str | None:
    """The workflow id recorded in the started event, or read from the dossier input."""
    attrs = history.events[0].workflow_execution_started_event_attributes
    if attrs.workflow_id:
        return attrs.workflow_id
    if attrs.workflow_type.name != "Dossier" or not attrs.input.payloads:
        return None
    try:
        inp = PAYLOAD_CONVERTER.from_payloads(attrs.input.payloads, [DossierInput])[0]
    except Exception:  # an unreadable input leaves the caller's fallback name
        return None
    return str(inp.code)


async def decrypt(codec: PayloadCodec | None, history: WorkflowHistory, label: str) -> None:
    """Decrypt the history's payloads in place (runtime/codec.py), so that trail and export
    read them; an erased dossier's, or one sealed with keys we lack, cannot be (`HistoryError`)."""
    if codec is None:
        return
    try:
        await decode_messages(history.events, codec)
    except KeysUnavailable as err:
        raise HistoryError(label, str(err)) from None


async def fetch_runs(client: Client, code: str) -> list[Source]:
    """Every run of dossier `code`, first to last, following continue-as-new back."""
    runs: list[Source] = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(code, run_id=run_id)
        try:
            history = await handle.fetch_history()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND and not runs:
                raise UserError(
                    f"no dossier {code} in namespace {client.namespace} at "
                    f"{client.service_client.config.target_host}"
                ) from err
            raise UserError(f"cannot fetch the history of {code}: {err.message}") from err
        label = f"{code} run {history.run_id}"
        try:
            await decrypt(client.data_converter.payload_codec, history, label)
        except HistoryError as err:
            raise UserError(str(err)) from None
        check(history, code)
        runs.append(Source(label, history))
        previous = history.events[0].workflow_execution_started_event_attributes
        run_id = previous.continued_execution_run_id or None
        if run_id is None:
            return runs[::-1]


def shard_of(workflow_id: str, shards: int) -> int:
    """The shard (1..`shards`) a workflow belongs to: a hash of its id, so every machine that
    lists the same query agrees on the partition, and all runs of a dossier go together."""
    digest = hashlib.sha256(workflow_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards + 1


async def query_runs(
    client: Client, query: str, shard: tuple[int, int] = (1, 1)
) -> AsyncIterator[Source | HistoryError]:
    """Every run a visibility query selects (e.g. `ProcedureCode="1.001193"`), or why not;
    with `shard=(i, n)` only those of the i-th of n shards (`shard_of`)."""
    index, shards = shard
    try:
        async for execution in client.list_workflows(query):
            if shards > 1 and shard_of(execution.id, shards) != index:
                continue
            label = f"{execution.id} run {execution.run_id}"
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            try:
                history = await handle.fetch_history()
                await decrypt(client.data_converter.payload_codec, history, label)
                yield Source(label, history)
            except RPCError as err:
                yield HistoryError(label, f"cannot fetch: {err.message}")
            except HistoryError as err:
                yield err
    except RPCError as err:
        raise UserError(f"query {query!r} failed: {err.message}") from err


async def count(client: Client, query: str) -> int:
    """How many runs a visibility query selects, for the progress line."""
    try:
        return (await client.count_workflows(query)).count
    except RPCError as err:
        raise UserError(f"query {query!r} failed: {err.message}") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
