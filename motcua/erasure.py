"""Erasure after retention: a closed dossier's personal data made unreadable for good.

Every payload of a dossier family (the dossier and its sub-dossiers) is encrypted with the
family's data key (runtime/keyring.py); erasing destroys that key, so the copies Temporal keeps
(history, database, WAL, backups, exported histories) become unreadable together, while other
dossiers are untouched. Before the key goes, the facts an audit needs that are not personal
(procedure and version, who did which task when, deadlines and whether they were met, the
outcome) are kept as the dossier's audit trail with the applicant and form values removed.

What remains possible afterwards, precisely:
- `motcua audit replay CODE` and `audit trail CODE` stop with "personal data erased at ...":
  the workflow's input and every later payload cannot be decrypted, so the workflow code
  cannot be re-run; a replay is no longer a proof, the kept trail is.
- Temporal still shows the history's skeleton until its namespace retention removes it:
  event types and times, task queues, the workflow and run ids (dossier codes), and the search
  attributes (procedure code, portal status, agencies and roles pending, due instants), which
  never held personal data.
- The kept trail (`<keep>/<CODE>.trail.json`, 0600) holds the non-personal facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.private import private_dir, write_private
from motcua.audit.history import HistoryError, fetch_runs
from motcua.audit.trail import build_trail
from runtime.codec import EncryptionCodec, dossier_family
from runtime.errors import UserError

ERASED = "(erased)"


@dataclass(frozen=True)
class Erased:
    """What an erasure did: the dossier, when, and where its non-personal trail was kept."""

    code: str
    at: datetime
    trail: Path


async def erase(
    client: Client, code: str, keep: Path, *, retention: timedelta, now: datetime
) -> Erased:
    """Erase dossier `code` once closed for `retention`: keep its trail, destroy its key."""
    codec = client.data_converter.payload_codec
    if not isinstance(codec, EncryptionCodec):
        raise UserError("payloads are not encrypted by motcua's codec: nothing to erase")
    family = dossier_family(code)
    if family != code:
        raise UserError(
            f"{code} is not a dossier code, or a sub-dossier (its family's key is its root"
            f" dossier's: erase {family})"
        )
    try:
        described = await client.get_workflow_handle(code).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise UserError(f"no dossier {code}") from None
        raise UserError(f"cannot describe {code}: {err.message}") from None
    if described.status == WorkflowExecutionStatus.RUNNING or described.close_time is None:
        raise UserError(f"{code} is still open: only a closed dossier is erased")
    ends = described.close_time + retention
    if now < ends:
        raise UserError(f"{code}: its retention period runs until {ends.isoformat()}")
    try:
        trail = build_trail([r.history for r in await fetch_runs(client, code)])
    except HistoryError as err:
        raise UserError(str(err)) from None
    kept = trail.model_copy(
        update={"applicant": {}, "form": dict.fromkeys(trail.form, ERASED), "revealed": False}
    )
    path = private_dir(keep) / f"{code}.trail.json"
    record = {"erased_at": now.isoformat(), "trail": kept.model_dump(mode="json")}
    write_private(path, (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode())
    if not codec.keys.erase(code, now):
        raise UserError(f"{code}: no data key to destroy (erased already?)")
    return Erased(code, now, path)
