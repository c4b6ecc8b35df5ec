"""The interpreter against a hand-written workflow, on one load, alternating, in the same run.

    python bench/compare.py [--rounds 6] [--batch 20] [--concurrency 10] [--record]

Starts an embedded dev server (SQLite in a temp dir) and one worker *process* serving both
`DossierWorkflow` (procedure 1.001193 interpreted) and `handwritten`
(`HandwrittenBirthWorkflow`), then plays batches of dossiers, alternating the two kinds batch by
batch (and which goes first, round by round), so that other load on the machine falls on both.
Each dossier is started directly (no counter), then every task is claimed and completed by a
load generator over the same `claim` / `complete` updates; an update sent before its task is
open is rejected by the validator and sent again after `RETRY_SECONDS`.

Measured per kind: dossiers per second (batch wall time), worker CPU seconds per dossier
(utime + stime of the worker process from /proc, also the server's), history events per
dossier (by type), update round-trip latency p50 / p99 of accepted updates, rejected attempts.
`--profile FILE` runs the worker under cProfile and writes its stats on exit.
`--record` writes the table into the `## Interpreter vs hand-written` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # `handwritten`, also inside the sandbox
# Payloads are encrypted on both sides (runtime/codec.py): this process and its worker share
# throwaway keys, found under $MOTCUA_DATA, set before motcua's modules read it.
os.environ.setdefault("MOTCUA_DATA", tempfile.mkdtemp(prefix="motcua-compare-keys-"))

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client, WorkflowUpdateFailedError  # noqa: E402
from temporalio.common import SearchAttributePair, TypedSearchAttributes  # noqa: E402

from motcua.client import credentials, load_frozen  # noqa: E402
from motcua.devserver import DevServer  # noqa: E402
from procedures.legaltime.calendar import WorkCalendar, load_calendar  # noqa: E402
from procedures.models import Channel, FormKind, FrozenProcedure  # noqa: E402
from runtime.connection import connect  # noqa: E402
from workflows import search_attributes as sa  # noqa: E402
from workflows.api import (  # noqa: E402
    CLAIM,
    COMPLETE,
    DOSSIER_WORKFLOW,
    Actor,
    Applicant,
    ClaimTask,
    CompleteTask,
    DossierInput,
    PortalStatus,
)
from workflows.forms import procedure_context  # noqa: E402

BENCHMARKS = ROOT / "BENCHMARKS.md"
SECTION = "## Interpreter vs hand-written (bench/compare.py)"
PROCEDURE = "1.001193"
RETRY_SECONDS = 0.05
CLK_TCK = os.sysconf("SC_CLK_TCK")
KINDS = ("interpreter", "handwritten")

# The approved path: (step, agency code, role, decision, fields); the two middle ones run at once.
PATH: tuple[tuple[tuple[str, str, str, str, dict[str, Any]], ...], ...] = (
    (("receive", "000.00.19.H26", "one_stop", "accept", {}),),
    (
        (
            "register_birth",
            "000.00.19.H26",
            "justice_officer",
            "registered",
            {"birth_register_number": "KS-1", "personal_id": "001"},
        ),
    ),
    (
        ("register_residence", "000.00.09.H26", "residence_officer", "registered", {}),
        ("issue_card", "000.00.31.H26", "card_officer", "issued", {"card_number": "BH-1"}),
    ),
    (("return_result", "000.00.19.H26", "one_stop", "returned", {}),),
)


# ------------------------------------------------------------------------------ processes


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load_average() -> str:
    """The 1-minute load average, for the record."""
    return Path("/proc/loadavg").read_text().split()[0]


CODE = ("procedures", "workflows", "activities", "runtime", "motcua", "bench", "worker.py")


def snapshot(dest: Path) -> Path:
    """Copy the code into `dest`: the worker runs what was there when the run started.

    Temporal's sandbox imports a workflow's module from disk again for every workflow it
    instantiates, so edits made in the tree during a run (others work in it) would otherwise
    reach a running worker half-way: new `workflows/dossier.py` next to the old, already
    loaded `workflows/api.py` (ImportError), or code that cannot replay earlier histories.
    """
    if not dest.exists():
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in CODE:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, dest / name, ignore=ignore)
            else:
                shutil.copy2(src, dest / name)
    return dest


def spawn_worker(
    address: str, data: Path, extra: Sequence[str] = (), script: str | None = None
) -> subprocess.Popen[bytes]:
    """A worker process on `address`, run from a snapshot of the code next to `data`.

    This file's `--worker` mode, or `script` (a path relative to the root, e.g. worker.py).
    """
    code = snapshot(data.parent / "code")
    env = {**os.environ, "TEMPORAL_ADDRESS": address, "MOTCUA_LOG_LEVEL": "warning"}
    env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    if script is None:
        argv = [sys.executable, str(code / "bench" / "compare.py"), "--worker", "--data", str(data)]
    else:
        argv = [sys.executable, str(code / script), "--data", str(data)]
    log = open(data.parent / "worker.log", "ab")  # noqa: SIM115 - lives as long as the worker
    return subprocess.Popen(
        [*argv, *extra], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(code)
    )


def cache_templates() -> None:
    """The fix the profile asks for, applied in this process only: compile each form once.

    `activities.documents.Documents.render_form` calls `FORMS.from_string(source)` on every
    render, and jinja2 does not cache `from_string`: 5-11 ms of compilation per form, 12% of
    the worker's CPU in this benchmark. Memoising it by source text is the proposed change.
    """
    import functools

    from procedures import templates

    compiled = functools.lru_cache(maxsize=256)(templates.FORMS.from_string)
    templates.FORMS.from_string = compiled  # type: ignore[method-assign,assignment]


def render_cost(repeat: int = 20) -> tuple[float, float]:
    """CPU ms per dossier of `render_form` (receipt, result, control slip): as is, memoised.

    Runs the real activity function in this process (files written and fsynced in a temp
    dir), first as shipped, then after `cache_templates()`.
    """
    from activities.documents import Documents
    from activities.payloads import RenderForm

    frozen = load_frozen(PROCEDURE)
    inputs = Inputs(frozen=frozen, calendar=load_calendar())
    hand = inputs.handwritten("000.00.19.H26-render-0001")
    dossier = {
        "code": hand.code,
        "channel": "online",
        "received_at": "08:00 ngày 26/11/2026",
        "due_at": "08:00 ngày 01/12/2026",
        "agency": {"code": "000.00.19.H26", "name": "UBND"},
        "applicant": hand.applicant.model_dump(),
        "status": "processing",
    }
    details = {
        FormKind.RECEIPT: {"documents": hand.documents},
        FormKind.RESULT: {"reason": "approved", "result": "approved", "documents": []},
        FormKind.CONTROL_SLIP: {"handovers": []},
    }
    costs = []
    with tempfile.TemporaryDirectory() as tmp:
        docs = Documents(Path(tmp))
        for memoised in (False, True):
            if memoised:
                cache_templates()
            started = time.process_time()
            for n in range(repeat):
                for kind, detail in details.items():
                    form = hand.forms[kind]
                    docs.render_form(
                        RenderForm(
                            doc_id=f"{n:03d}",
                            dossier_code=hand.code,
                            kind=kind,
                            form=form,
                            context={
                                "procedure": hand.procedure,
                                "form": {"number": form.number, "title": form.title},
                                "dossier": dossier,
                                "issued_at": "08:00 ngày 26/11/2026",
                                "details": detail,
                            },
                        )
                    )
            costs.append((time.process_time() - started) / repeat * 1000)
    return costs[0], costs[1]


def worker_main(data: Path, profile: Path | None, max_cached: int, cached: bool) -> int:
    """The worker process: both workflows, motcua's activities, production settings."""
    import cProfile

    from handwritten import HandwrittenBirthWorkflow

    from identity import layout
    from runtime import logs
    from runtime.trust import Trust
    from runtime.workers import WORKFLOWS, WorkerGroup, stop_on_signals

    logs.configure()
    if cached:
        cache_templates()
    profiler = cProfile.Profile() if profile else None

    async def serve() -> None:
        stop = stop_on_signals()
        client = await connect()
        queues = ["commune", "police", "insurance"]
        workflows = (*WORKFLOWS, HandwrittenBirthWorkflow)
        trust = Trust(layout.officers_signer(data).keyset(), drafts=True)
        async with WorkerGroup(
            client,
            queues,
            data,
            trust=trust,
            workflows=workflows,
            max_cached_workflows=max_cached,
        ) as group:
            await group.wait(stop)

    if profiler is not None:
        profiler.enable()
    asyncio.run(serve())
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    return 0


# ------------------------------------------------------------------------------ load


@dataclass
class Batch:
    """What one batch of one kind measured."""

    kind: str
    dossiers: int
    seconds: float
    worker_cpu: float
    server_cpu: float
    latencies: list[float] = field(default_factory=list)
    rejected: int = 0
    codes: list[str] = field(default_factory=list)


@dataclass
class Inputs:
    """What starting a dossier of each kind needs, built once."""

    frozen: FrozenProcedure
    calendar: WorkCalendar
    applicant: Applicant = field(
        default_factory=lambda: Applicant(
            full_name="Trần Thị Mai", id_number="019190000123", phone="0912000111"
        )
    )

    def interpreter(self, code: str) -> DossierInput:
        """The interpreter's input, as `motcua.client.submit` builds it."""
        docs = tuple(d.id for d in self.frozen.procedure.documents if d.required)
        return DossierInput(
            code=code,
            procedure=self.frozen,
            calendar=self.calendar,
            received_at=datetime.now(UTC),
            channel=Channel.ONLINE,
            applicant=self.applicant,
            documents=docs,
            request_id=code,
        )

    def handwritten(self, code: str) -> Any:
        """The hand-written workflow's input: only the forms and data it prints."""
        from handwritten import HandwrittenInput

        proc = self.frozen.procedure
        kinds = (FormKind.RECEIPT, FormKind.RESULT, FormKind.REFUSAL, FormKind.CONTROL_SLIP)
        return HandwrittenInput(
            code=code,
            received_at=datetime.now(UTC),
            channel=Channel.ONLINE,
            applicant=self.applicant,
            calendar=self.calendar,
            forms={k: proc.forms[k] for k in kinds},
            procedure=procedure_context(proc),
            documents=[{"name": d.name, "copies": d.copies} for d in proc.documents if d.required],
        )


async def send(
    call: Callable[[], Awaitable[Any]], latencies: list[float], counter: list[int]
) -> None:
    """Send an update until accepted; record the accepted round trip, count the rejections."""
    while True:
        started = time.perf_counter()
        try:
            await call()
        except WorkflowUpdateFailedError:
            counter[0] += 1
            await asyncio.sleep(RETRY_SECONDS)
            continue
        latencies.append(time.perf_counter() - started)
        return


async def play_one(
    client: Client, kind: str, code: str, inputs: Inputs, latencies: list[float], rej: list[int]
) -> None:
    """Start one dossier of `kind` and decide every task of the approved path."""
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(sa.PROCEDURE_CODE, PROCEDURE),
            SearchAttributePair(sa.PORTAL_STATUS, PortalStatus.RECEIVED.value),
            SearchAttributePair(sa.OVERDUE, False),
        ]
    )
    if kind == "interpreter":
        handle = await client.start_workflow(
            DOSSIER_WORKFLOW,
            inputs.interpreter(code),
            id=code,
            task_queue="commune",
            search_attributes=attributes,
        )
    else:
        from handwritten import HANDWRITTEN_WORKFLOW

        handle = await client.start_workflow(
            HANDWRITTEN_WORKFLOW,
            inputs.handwritten(code),
            id=code,
            task_queue="commune",
            search_attributes=attributes,
        )

    async def decide(step: str, agency: str, role: str, decision: str, data: Any) -> None:
        actor = Actor(user=f"bench.{role}", agency=agency, role=role)
        assertion = await credentials.assertion_for(actor, None)
        claim = ClaimTask(step=step, actor=actor, assertion=assertion)
        done = CompleteTask(
            step=step, actor=actor, decision=decision, fields=data, assertion=assertion
        )
        await send(lambda: handle.execute_update(CLAIM, claim, result_type=str), latencies, rej)
        await send(lambda: handle.execute_update(COMPLETE, done, result_type=str), latencies, rej)

    for stage in PATH:
        await asyncio.gather(*(decide(*task) for task in stage))
    await handle.result()


async def run_batch(
    client: Client,
    kind: str,
    prefix: str,
    count: int,
    concurrency: int,
    inputs: Inputs,
    worker: int,
    server: int,
) -> Batch:
    """Play `count` dossiers of `kind`, `concurrency` at a time, and measure."""
    latencies: list[float] = []
    rejected = [0]
    gate = asyncio.Semaphore(concurrency)
    codes = [f"000.00.19.H26-{prefix}-{n:04d}" for n in range(count)]

    async def one(code: str) -> None:
        async with gate:
            await play_one(client, kind, code, inputs, latencies, rejected)

    cpu0, srv0, t0 = cpu_seconds(worker), cpu_seconds(server), time.perf_counter()
    await asyncio.gather(*(one(c) for c in codes))
    seconds = time.perf_counter() - t0
    return Batch(
        kind=kind,
        dossiers=count,
        seconds=seconds,
        worker_cpu=cpu_seconds(worker) - cpu0,
        server_cpu=cpu_seconds(server) - srv0,
        latencies=latencies,
        rejected=rejected[0],
        codes=codes,
    )


async def history_counts(
    client: Client, codes: Sequence[str]
) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """Events, and their bytes (protobuf size, as the server stores them), of every type over
    the histories of `codes`."""
    counts: collections.Counter[str] = collections.Counter()
    sizes: collections.Counter[str] = collections.Counter()
    gate = asyncio.Semaphore(16)

    async def one(code: str) -> None:
        async with gate:
            history = await client.get_workflow_handle(code).fetch_history()
        for event in history.events:
            name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
            counts[name] += 1
            sizes[name] += event.ByteSize()

    await asyncio.gather(*(one(c) for c in codes))
    return counts, sizes


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


# ------------------------------------------------------------------------------ report


def summarise(
    batches: list[Batch],
    events: dict[str, collections.Counter[str]],
    sizes: dict[str, collections.Counter[str]],
) -> list[str]:
    """The table (markdown), one column per kind, plus the event breakdown."""
    rows: dict[str, dict[str, str]] = {}
    raw: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        mine = [b for b in batches if b.kind == kind]
        n = sum(b.dossiers for b in mine)
        lat = [x for b in mine for x in b.latencies]
        per_batch = [b.dossiers / b.seconds for b in mine]
        raw[kind] = {
            "tput": statistics.median(per_batch),
            "cpu": sum(b.worker_cpu for b in mine) / n,
            "events": sum(events[kind].values()) / n,
            "bytes": sum(sizes[kind].values()) / n,
            "input": sizes[kind]["WORKFLOW_EXECUTION_STARTED"] / n,
        }
        rows[kind] = {
            "dossiers measured": f"{n}",
            "dossiers/s (median of batches)": f"{raw[kind]['tput']:.2f}",
            "dossiers/s (min-max)": f"{min(per_batch):.2f}-{max(per_batch):.2f}",
            "worker CPU s/dossier": f"{raw[kind]['cpu'] * 1000:.0f} ms",
            "server CPU s/dossier": f"{sum(b.server_cpu for b in mine) / n * 1000:.0f} ms",
            "history events/dossier": f"{raw[kind]['events']:.1f}",
            "history bytes/dossier": f"{raw[kind]['bytes']:,.0f}",
            "of which the start event (input)": f"{raw[kind]['input']:,.0f}",
            "update p50": f"{percentile(lat, 0.5) * 1000:.0f} ms",
            "update p99": f"{percentile(lat, 0.99) * 1000:.0f} ms",
            "rejected updates/dossier": f"{sum(b.rejected for b in mine) / n:.2f}",
        }
    hand, interp = raw["handwritten"], raw["interpreter"]
    lines = ["| | interpreter | hand-written | interpreter / hand-written |", "|---|---|---|---|"]
    ratios = {
        "dossiers/s (median of batches)": interp["tput"] / hand["tput"],
        "worker CPU s/dossier": interp["cpu"] / hand["cpu"],
        "history events/dossier": interp["events"] / hand["events"],
        "history bytes/dossier": interp["bytes"] / hand["bytes"],
        "of which the start event (input)": interp["input"] / hand["input"],
    }
    for name in rows["interpreter"]:
        ratio = f"{ratios[name]:.2f}" if name in ratios else ""
        lines.append(
            f"| {name} | {rows['interpreter'][name]} | {rows['handwritten'][name]} | {ratio} |"
        )
    lines += ["", "History events per dossier, by type:", ""]
    lines += ["| event type | interpreter | hand-written |", "|---|---|---|"]
    n_i = sum(b.dossiers for b in batches if b.kind == "interpreter")
    n_h = sum(b.dossiers for b in batches if b.kind == "handwritten")
    for name in sorted(set(events["interpreter"]) | set(events["handwritten"])):
        a, b = events["interpreter"][name] / n_i, events["handwritten"][name] / n_h
        mark = " **" if abs(a - b) > 1e-9 else ""
        lines.append(f"| {name}{mark} | {a:.1f} | {b:.1f} |")
    return lines


def record(lines: list[str], title: str = SECTION) -> None:
    """Replace (or add) a benchmark's section of BENCHMARKS.md, keeping the others."""
    text = BENCHMARKS.read_text(encoding="utf-8")
    section = "\n".join([title, "", *lines]) + "\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    BENCHMARKS.write_text(text, encoding="utf-8")


async def bench(args: argparse.Namespace) -> list[str]:
    """Server, worker process, warm-up, alternating rounds; the report's lines."""
    tmp = Path(tempfile.mkdtemp(prefix="motcua-compare-"))
    data = tmp / "data"
    data.mkdir()
    # This process is the officers' front door; the worker trusts its key (interpreter 4 on).
    credentials.sign_with(credentials.local_signing(data))
    server = DevServer(tmp / "server", port=free_port(), ui_port=free_port(), log_level="error")
    await server.start()
    assert server._process is not None
    server_pid = server._process.pid
    extra = ["--max-cached-workflows", str(args.max_cached)]
    if args.cache_templates:
        extra.append("--cache-templates")
    if args.profile:
        extra += ["--profile", str(Path(args.profile).resolve())]
    worker = spawn_worker(server.address, data, extra)
    try:
        client = await connect(server.address)
        inputs = Inputs(frozen=load_frozen(PROCEDURE), calendar=load_calendar())
        print(f"load average before: {load_average()}", flush=True)
        for kind in KINDS:  # warm-up: imports, sandbox, caches, server tables
            await run_batch(client, kind, f"warm{kind[0]}", 4, 4, inputs, worker.pid, server_pid)
        batches: list[Batch] = []
        loads = []
        for r in range(args.rounds):
            order = KINDS if r % 2 == 0 else KINDS[::-1]
            for kind in order:
                batch = await run_batch(
                    client,
                    kind,
                    f"r{r}{kind[0]}",
                    args.batch,
                    args.concurrency,
                    inputs,
                    worker.pid,
                    server_pid,
                )
                batches.append(batch)
                loads.append(float(load_average()))
                print(
                    f"round {r} {kind:12s} {batch.dossiers / batch.seconds:6.2f} dossiers/s "
                    f"cpu {batch.worker_cpu / batch.dossiers * 1000:5.0f} ms/dossier "
                    f"load {loads[-1]}",
                    flush=True,
                )
        counted = {
            kind: await history_counts(
                client, [c for b in batches if b.kind == kind for c in b.codes]
            )
            for kind in KINDS
        }
        lines = summarise(
            batches, {k: c[0] for k, c in counted.items()}, {k: c[1] for k, c in counted.items()}
        )
        lines += [
            "",
            f"Forms memoised in the worker (`--cache-templates`): {args.cache_templates}. "
            f"Run: {args.rounds} rounds x {args.batch} dossiers per kind, {args.concurrency} "
            f"in flight, alternating; worker process with max_cached_workflows={args.max_cached}; "
            f"load average during the run {min(loads):.1f}-{max(loads):.1f} "
            f"(2 cores shared with other work); worker RSS at the end "
            f"{rss_mb(worker.pid):.0f} MiB.",
            f"Input payload: interpreter {len(inputs.interpreter('x').model_dump_json()):,} bytes "
            f"(whole frozen procedure + calendar), hand-written "
            f"{len(json.dumps(_jsonable(inputs.handwritten('x')))):,} bytes.",
        ]
        return lines
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        await server.stop()


def _jsonable(value: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(type(value)).dump_python(value, mode="json")


def main(argv: list[str] | None = None) -> int:
    """Run the comparison (or, with `--worker`, be its worker process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--max-cached", type=int, default=500)
    parser.add_argument("--profile", help="cProfile the worker into this file")
    parser.add_argument(
        "--cache-templates",
        action="store_true",
        help="memoise compiled forms in the worker (the proposed render_form fix)",
    )
    parser.add_argument(
        "--render-cost", action="store_true", help="only time render_form, as is and memoised"
    )
    parser.add_argument("--record", action="store_true", help="write BENCHMARKS.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--max-cached-workflows", type=int, default=500, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        assert args.data is not None
        profile = Path(args.profile) if args.profile else None
        return worker_main(args.data, profile, args.max_cached_workflows, args.cache_templates)
    if args.render_cost:
        shipped, memoised = render_cost()
        print(
            f"render_form, receipt + result + control slip: {shipped:.1f} ms CPU per dossier "
            f"as shipped, {memoised:.1f} ms with compiled forms memoised"
        )
        return 0
    lines = asyncio.run(bench(args))
    print("\n".join(lines))
    if args.record:
        record(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
