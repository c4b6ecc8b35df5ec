"""A dossier's input travels with its form templates compressed (`workflows.packing`):
smaller histories, the same frozen procedure, old histories still read (issue 19)."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Setup, serving, submit
from pydantic import ValidationError
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from motcua.audit.history import Source
from motcua.audit.replay import replay
from procedures.loader import load_catalog
from workflows.api import DossierInput
from workflows.packing import FIELD

HISTORIES = Path(__file__).parent / "histories"
CONVERTER = pydantic_data_converter.payload_converter


def encoded(inp: DossierInput) -> bytes:
    return CONVERTER.to_payloads([inp])[0].data


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.v3*.json")), ids=lambda p: p.stem)
def test_inputs_keep_their_procedure_and_shrink(path: Path) -> None:
    """A golden history's input (templates in place) reads as before, and encoded today it
    decodes to the same frozen procedure, template texts byte for byte, in a third of the size."""
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    old = history.events[0].workflow_execution_started_event_attributes.input.payloads[0].data
    assert FIELD.encode() not in old
    inp = DossierInput.model_validate_json(old)
    new = encoded(inp)
    back = CONVERTER.from_payloads(CONVERTER.to_payloads([inp]), [DossierInput])[0]
    assert back == inp
    assert back.procedure.content_hash == inp.procedure.content_hash
    for kind, form in inp.procedure.procedure.forms.items():
        assert form.source and back.procedure.procedure.forms[kind].source == form.source
    assert len(new) < 0.45 * len(old)
    for frozen in (inp.procedure, *inp.procedure.subprocedures.values()):
        for form in frozen.procedure.forms.values():  # every template travels packed
            assert (form.source or "")[:80].encode() not in new


def test_every_catalogue_procedure_round_trips() -> None:
    from datetime import UTC, datetime

    from procedures.legaltime.calendar import load_calendar
    from procedures.models import Channel
    from workflows.api import Applicant

    for code, frozen in load_catalog().items():
        inp = DossierInput(
            code="000.00.19.H26-261130-0001",
            procedure=frozen,
            calendar=load_calendar(),
            received_at=datetime.now(UTC),
            channel=Channel.ONLINE,
            applicant=Applicant(full_name="Trần Thị Mai", id_number="019190000123"),
            request_id="r",
        )
        assert DossierInput.model_validate_json(encoded(inp)) == inp, code


def test_an_inflating_packed_field_is_refused() -> None:
    history = WorkflowHistory.from_json(
        "x", (HISTORIES / "2.000720-refused.v3.json").read_text(encoding="utf-8")
    )
    old = history.events[0].workflow_execution_started_event_attributes.input.payloads[0].data
    data: dict[str, Any] = json.loads(old)
    bomb = zlib.compress(b'{"receipt": "' + b" " * (17 * 1024 * 1024) + b'"}', 9)
    data[FIELD] = base64.b85encode(bomb).decode()
    with pytest.raises(ValidationError, match="more than"):
        DossierInput.model_validate(data)


@pytest.fixture(scope="module")
async def setup(dev_env: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    async with serving(dev_env.client, tmp_path_factory.mktemp("size")) as ready:
        yield ready


async def test_a_packed_dossier_runs_and_replays(setup: Setup) -> None:
    done = await submit(setup)
    handle = setup.client.get_workflow_handle(done.code)
    history = await handle.fetch_history()
    packed = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    codec = setup.client.data_converter.payload_codec
    assert codec is not None  # compressed first, then encrypted (runtime/codec.py)
    [plain] = await codec.decode([packed])
    assert FIELD.encode() in plain.data
    outcomes = await replay([Source(done.code, history)], concurrency=1)
    assert [o.ok for o in outcomes] == [True], outcomes[0].line()
