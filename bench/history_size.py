"""History bytes per dossier, for each catalogue procedure: the input, and whole histories.

    python bench/history_size.py [--record]

Offline, no server: (1) the start event's input payload of a dossier of every catalogue
procedure, encoded by the worker's data converter as `motcua.client.submit` builds it, and
for 1.001193 the hand-written workflow's input (bench/handwritten.py) beside it; (2) every
golden history of tests/histories (interpreter 3): its bytes (protobuf, as the server stores
them), and what its start event weighs when the same input is encoded today. Whole histories
against the hand-written workflow, played on the same path, come from bench/compare.py
("history bytes/dossier"); (3) the search-attribute upserts of the golden histories recorded
under interpreter 5 and 6 for the same cases.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compare import Inputs, record  # noqa: E402
from temporalio.client import WorkflowHistory  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402

from procedures.legaltime.calendar import load_calendar  # noqa: E402
from procedures.loader import load_catalog  # noqa: E402
from procedures.models import Channel  # noqa: E402
from workflows.api import Applicant, DossierInput  # noqa: E402

SECTION = "## History size (bench/history_size.py)"
HISTORIES = ROOT / "tests" / "histories"
APPLICANT = Applicant(full_name="Trần Thị Mai", id_number="019190000123", phone="0912000111")


def payload_bytes(value: object) -> int:
    """Bytes of `value` as one payload of the worker's data converter."""
    converter = pydantic_data_converter.payload_converter
    return converter.to_payloads([value])[0].ByteSize()


def dossier_input(code: str) -> DossierInput:
    frozen = load_catalog()[code]
    return DossierInput(
        code="000.00.19.H26-261130-0001",
        procedure=frozen,
        calendar=load_calendar(),
        received_at=datetime(2026, 11, 30, 2, tzinfo=UTC),
        channel=Channel.ONLINE,
        applicant=APPLICANT,
        documents=tuple(d.id for d in frozen.procedure.documents if d.required),
        request_id="x" * 64,
    )


def run() -> list[str]:
    lines = [
        "Input payload of one dossier (the start event's input), per catalogue procedure:",
        "",
        "| procedure | input bytes | of which form templates (raw) |",
        "|---|---|---|",
    ]
    for code in sorted(load_catalog()):
        inp = dossier_input(code)
        texts = sum(
            len((f.source or "").encode())
            for frozen in (inp.procedure, *inp.procedure.subprocedures.values())
            for f in frozen.procedure.forms.values()
        )
        lines.append(f"| {code} | {payload_bytes(inp):,} | {texts:,} |")
    inputs = Inputs(frozen=load_catalog()["1.001193"], calendar=load_calendar())
    hand = len(json.dumps(_jsonable(inputs.handwritten("000.00.19.H26-261130-0001"))).encode())
    lines += [
        f"| 1.001193 hand-written (bench/handwritten.py) | {hand:,} (JSON) | 4 forms |",
        "",
        "Golden histories (tests/histories, interpreter 3), recorded with the encoding of their "
        "day, and their start event re-encoded today:",
        "",
        "| history | events | bytes | start event | start event today | bytes today |",
        "|---|---|---|---|---|---|",
    ]
    for path in sorted(HISTORIES.glob("*.v3*.json")):
        history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
        total = sum(e.ByteSize() for e in history.events)
        start = history.events[0]
        attrs = start.workflow_execution_started_event_attributes
        old = attrs.input.payloads[0]
        inp = DossierInput.model_validate_json(old.data)
        new = payload_bytes(inp)
        today = total - old.ByteSize() + new
        lines.append(
            f"| {path.stem} | {len(history.events)} | {total:,} | {start.ByteSize():,} | "
            f"{start.ByteSize() - old.ByteSize() + new:,} | {today:,} |"
        )
    lines += ["", *upserts(), "", "    python bench/history_size.py --record"]
    return lines


def upserts() -> list[str]:
    """Golden histories of the same cases under interpreter 5 and 6 (`upserts_changed_only`):
    what their search-attribute upserts carry, and the whole history's bytes."""
    lines = [
        "Search-attribute upserts, interpreter 5 against 6 (only the attributes that changed),",
        "golden histories of the same cases:",
        "",
        "| history | upserts | values v5 | values v6 | upsert bytes v5 | v6 | bytes v5 | v6 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(HISTORIES.glob("*.v6*.json")):
        row = []
        for version in (5, 6):
            named = path.with_name(path.name.replace(".v6", f".v{version}"))
            history = WorkflowHistory.from_json(named.stem, named.read_text(encoding="utf-8"))
            upserted = [
                e.upsert_workflow_search_attributes_event_attributes
                for e in history.events
                if e.HasField("upsert_workflow_search_attributes_event_attributes")
            ]
            values = sum(len(u.search_attributes.indexed_fields) for u in upserted)
            size = sum(u.ByteSize() for u in upserted)
            row.append((len(upserted), values, size, sum(e.ByteSize() for e in history.events)))
        (n5, v5, u5, b5), (_, v6, u6, b6) = row
        lines.append(
            f"| {path.stem.replace('.v6', '')} | {n5} | {v5} | {v6} | {u5:,} | {u6:,} |"
            f" {b5:,} | {b6:,} |"
        )
    return lines


def _jsonable(value: object) -> object:
    from compare import _jsonable as convert

    return convert(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--record", action="store_true", help="write BENCHMARKS.md")
    args = parser.parse_args(argv)
    lines = run()
    print("\n".join(lines))
    if args.record:
        record(lines, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
