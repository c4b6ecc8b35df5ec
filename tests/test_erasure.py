"""Erasure after retention: a closed dossier family's key destroyed, its non-personal trail kept.

A death-residence dossier (with a sub-dossier at the police) is played to its end on the
time-skipping server; erasing it is refused before its retention period ends and for a
sub-dossier; afterwards neither history can be decrypted (trail and replay say so), the search
attributes still show the non-personal facts, and the kept trail has them without the applicant.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from motcua.audit.history import fetch_runs
from motcua.dryrun import APPLICANT, dry_run, plan_for, time_skipping_server
from motcua.erasure import erase
from procedures.loader import load_procedure
from runtime.codec import key_id_of
from runtime.errors import UserError
from runtime.replayer import new_replayer
from workflows import search_attributes as sa

CATALOG = Path(__file__).resolve().parents[1] / "procedures" / "catalog"


@pytest_asyncio.fixture(loop_scope="session")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server: the session's `ts_env` may have skipped past the calendar."""
    async with time_skipping_server() as env:
        yield env


async def test_an_erased_dossier_keeps_its_facts_and_loses_its_personal_data(
    server: WorkflowEnvironment, data_dir: Path
) -> None:
    frozen = load_procedure(CATALOG / "death-residence.yaml")
    plan = plan_for(frozen, (), (), False)
    ran = await dry_run(server, frozen, data_dir, plan)
    root, *children = [d.code for d in ran.dossiers]
    assert children and all(c.startswith(f"{root}.") for c in children)
    client = server.client
    handle = client.get_workflow_handle(root)
    closed = (await handle.describe()).close_time
    assert closed is not None
    keep = data_dir / "erased"

    with pytest.raises(UserError, match="retention period runs until"):
        await erase(client, root, keep, retention=timedelta(days=31), now=closed + timedelta(30))
    with pytest.raises(UserError, match=f"sub-dossier .*erase {root}"):
        await erase(client, children[0], keep, retention=timedelta(0), now=closed)
    encrypted = await handle.fetch_history()  # as stored: what a replay gets
    first = encrypted.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert key_id_of(first) == f"dossier:{root}"
    replayer = new_replayer()
    assert (
        await replayer.replay_workflow(encrypted, raise_on_replay_failure=False)
    ).replay_failure is None

    done = await erase(client, root, keep, retention=timedelta(days=30), now=closed + timedelta(30))

    # The kept trail: who did what and when, the outcome; no applicant.
    kept = json.loads(done.trail.read_text(encoding="utf-8"))
    trail = kept["trail"]
    assert trail["code"] == root and trail["procedure_code"] == frozen.procedure.code
    assert trail["applicant"] == {} and trail["outcome"] and trail["tasks"]
    assert all(t["decided_by"] for t in trail["tasks"] if t.get("decision"))
    assert any(t.get("decision") for t in trail["tasks"])
    text = done.trail.read_text(encoding="utf-8")
    assert APPLICANT.id_number not in text and APPLICANT.full_name not in text
    assert oct(done.trail.stat().st_mode & 0o777) == "0o600"

    # The root and its sub-dossier: no trail, no replay; each says why in one line.
    for code in (root, *children):
        with pytest.raises(UserError, match=rf"dossier {root}: personal data erased at "):
            await fetch_runs(client, code)
    replayed = await replayer.replay_workflow(encrypted, raise_on_replay_failure=False)
    assert replayed.replay_failure is not None
    assert "personal data erased" in str(replayed.replay_failure)

    # What Temporal still shows without any key: the search attributes and the event skeleton.
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.PROCEDURE_CODE) == frozen.procedure.code
    assert len((await handle.fetch_history()).events) == len(encrypted.events)

    with pytest.raises(UserError, match="personal data erased at"):  # once is enough
        await erase(client, root, keep, retention=timedelta(0), now=closed + timedelta(31))
