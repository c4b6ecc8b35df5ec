"""Durability: dossiers played to the end while the worker is killed -9 and the server restarted.

    python bench/chaos.py [--dossiers 500] [--kills 10] [--concurrency 30] [--seed 1] [--record]
    make chaos

An embedded dev server (SQLite in a temp dir) and the real worker (`worker.py`, a separate
process) serve procedure 1.001193 (birth + residence + health insurance). A bot submits
`--dossiers` dossiers through `motcua.client.submit` (counter, idempotent request ids) and
plays every officer with `motcua.play.play`, retrying whatever fails while the worker or the
server is down. Meanwhile the worker gets SIGKILL at random moments (every 8-30 s by default,
`--every`) and is started again after 0-2 s, `--kills` times; half-way through the kills the
embedded server is stopped and started again on the same SQLite file (`--no-server-restart`
to skip).

Then it checks, from visibility, the histories and the outbox files:
- every dossier ran exactly once (one execution per code, completed, approved);
- every notification and portal record the histories scheduled is in the outbox exactly once:
  none lost, none duplicated (and nothing in the outbox that no history scheduled).
Exit status 1 if anything is lost or duplicated. `--record` writes BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compare import free_port, load_average, record, spawn_worker  # noqa: E402
from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client, WorkflowExecutionStatus  # noqa: E402

from motcua import client as ops  # noqa: E402
from motcua import play, publication  # noqa: E402
from motcua.audit.history import decrypt  # noqa: E402
from motcua.client import credentials  # noqa: E402
from motcua.devserver import DevServer  # noqa: E402
from procedures.loader import DEFAULT_CATALOG  # noqa: E402
from procedures.models import Channel, FrozenProcedure, ResultType  # noqa: E402
from runtime.catalogue import load_catalogue  # noqa: E402
from workflows.api import Applicant, DossierOutcome  # noqa: E402

SECTION = "## Durability under kill -9 (bench/chaos.py)"
PROCEDURE = "1.001193"
OUTBOX_KEYS = {"notify_applicant": "notification_id", "sync_portal": "record_id"}


@dataclass
class Chaos:
    """The worker process, the server, and what was done to them."""

    server_dir: Path
    data: Path
    port: int
    ui_port: int
    server: DevServer | None = None
    worker: subprocess.Popen[bytes] | None = None
    kills: int = 0
    worker_starts: int = 0
    worker_exits: list[int] = field(default_factory=list)
    server_restarts: int = 0
    paused: bool = False

    async def start_server(self) -> None:
        """Start the embedded server on the kept SQLite file."""
        self.server = DevServer(
            self.server_dir, port=self.port, ui_port=self.ui_port, log_level="error"
        )
        await self.server.start()

    def start_worker(self) -> None:
        """Start `worker.py` on the server."""
        assert self.server is not None
        self.worker = spawn_worker(self.server.address, self.data, script="worker.py")
        self.worker_starts += 1

    async def supervise(self, done: asyncio.Event) -> None:
        """Restart the worker whenever it is gone (killed, or gave up on a stopped server)."""
        while not done.is_set():
            if not self.paused and self.worker is not None and self.worker.poll() is not None:
                self.worker_exits.append(self.worker.returncode)
                self.start_worker()
            await asyncio.sleep(0.5)

    async def havoc(
        self, kills: int, every: tuple[float, float], restart_server: bool, rng: random.Random
    ) -> None:
        """SIGKILL the worker `kills` times at random moments; restart the server half-way."""
        for n in range(kills):
            await asyncio.sleep(rng.uniform(*every))
            assert self.worker is not None
            self.paused = True
            self.worker.send_signal(signal.SIGKILL)
            self.worker.wait()
            self.kills += 1
            print(f"[{time.strftime('%X')}] kill -9 worker #{self.kills}", flush=True)
            await asyncio.sleep(rng.uniform(0, 2))
            self.start_worker()
            self.paused = False
            if restart_server and n == kills // 2 - 1:
                await asyncio.sleep(rng.uniform(1, 4))
                assert self.server is not None
                print(f"[{time.strftime('%X')}] stopping the server", flush=True)
                await self.server.stop()
                await asyncio.sleep(2)
                await self.start_server()
                self.server_restarts += 1
                print(f"[{time.strftime('%X')}] server restarted (same SQLite)", flush=True)

    async def stop(self) -> None:
        """Stop the worker gracefully, then the server."""
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
        if self.server is not None:
            await self.server.stop()


async def retrying(what: str, call: Any, failures: collections.Counter[str]) -> Any:
    """Await `call()` until it succeeds; count the failures by exception type."""
    while True:
        try:
            return await call()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            failures[f"{what}: {type(err).__name__}"] += 1
            await asyncio.sleep(1)


async def play_to_end(
    client: Client, code: str, frozen: FrozenProcedure, failures: collections.Counter[str]
) -> None:
    """`play.play` until the dossier ends; once it is closed, stop even if queries fail."""
    while True:
        try:
            await play.play(client, code, frozen)
            return
        except asyncio.CancelledError:
            raise
        except Exception as err:
            failures[f"play: {type(err).__name__}"] += 1
            try:
                closed = (await client.get_workflow_handle(code).describe()).close_time
            except Exception:
                closed = None
            if closed is not None:
                failures["play: dossier closed but its state query failed"] += 1
                return
            await asyncio.sleep(1)


async def bot(
    address: str,
    n: int,
    concurrency: int,
    seed: int,
    failures: collections.Counter[str],
    stall: float,
) -> list[str]:
    """Submit `n` dossiers and play them to the end; their codes."""
    client = await ops.connect(address)
    frozen: FrozenProcedure = ops.load_frozen(PROCEDURE)
    documents = tuple(d.id for d in frozen.procedure.documents if d.required)
    gate = asyncio.Semaphore(concurrency)
    codes: list[str] = []
    finished = [0]

    async def one(i: int) -> None:
        applicant = Applicant(full_name=f"Người nộp {i}", id_number=f"0191{i:08d}")
        async with gate:
            submitted = await retrying(
                "submit",
                lambda: ops.submit(
                    client,
                    frozen,
                    applicant,
                    Channel.ONLINE,
                    {},
                    documents,
                    request_id=f"chaos-{seed}-{i}",
                ),
                failures,
            )
            codes.append(submitted.code)
            await play_to_end(client, submitted.code, frozen, failures)
            finished[0] += 1
            if finished[0] % 50 == 0:
                print(f"[{time.strftime('%X')}] {finished[0]}/{n} dossiers finished", flush=True)

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    last, seen = time.monotonic(), 0
    while not all(t.done() for t in tasks):
        await asyncio.sleep(5)
        if finished[0] != seen:
            last, seen = time.monotonic(), finished[0]
        elif time.monotonic() - last > stall:
            stuck = sum(1 for t in tasks if not t.done())
            print(f"no dossier finished for {stall:.0f} s: {stuck} left running", flush=True)
            for t in tasks:
                t.cancel()
            break
    await asyncio.gather(*tasks, return_exceptions=True)
    return codes


def read_outbox(path: Path, key: str) -> tuple[collections.Counter[str], int]:
    """Ids in an outbox file with their counts, and the number of unreadable lines."""
    counts: collections.Counter[str] = collections.Counter()
    bad = 0
    if not path.exists():
        return counts, bad
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            counts[str(json.loads(line)[key])] += 1
        except (ValueError, KeyError):
            bad += 1
    return counts, bad


async def verify(client: Client, codes: list[str], data: Path) -> dict[str, Any]:
    """Exactly once, none lost: visibility, results, histories against the outboxes."""
    executions: collections.Counter[str] = collections.Counter()
    not_completed: list[str] = []
    async for wf in client.list_workflows("WorkflowType = 'Dossier'"):
        executions[wf.id] += 1
        if wf.status is not WorkflowExecutionStatus.COMPLETED:
            not_completed.append(wf.id)
    expected: dict[str, set[str]] = {name: set() for name in OUTBOX_KEYS}
    retried_activities = 0
    wft_failures = 0
    approved = 0
    gate = asyncio.Semaphore(16)

    async def one(code: str) -> None:
        nonlocal retried_activities, wft_failures, approved
        handle = client.get_workflow_handle(code, result_type=DossierOutcome)
        async with gate:
            if code not in not_completed:
                outcome = await handle.result()
                approved += outcome.result is ResultType.APPROVED
            history = await handle.fetch_history()
        await decrypt(client.data_converter.payload_codec, history, code)
        for event in history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attrs = event.activity_task_scheduled_event_attributes
                name = attrs.activity_type.name
                if name in OUTBOX_KEYS:
                    payload = json.loads(attrs.input.payloads[0].data)
                    expected[name].add(str(payload[OUTBOX_KEYS[name]]))
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                retried_activities += event.activity_task_started_event_attributes.attempt > 1
            elif event.event_type in (  # attempts that failed or timed out
                EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
                EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
            ):
                wft_failures += 1

    await asyncio.gather(*(one(c) for c in codes))
    report: dict[str, Any] = {
        "dossiers": len(codes),
        "distinct codes": len(set(codes)),
        "executions": sum(executions.values()),
        "codes with more than one execution": sum(1 for c in executions.values() if c > 1),
        "not completed (still running)": len(not_completed),
        "approved": approved,
        "activities retried (attempt > 1)": retried_activities,
        "workflow tasks failed or timed out": wft_failures,
    }
    files = {"notify_applicant": "notifications.jsonl", "sync_portal": "portal.jsonl"}
    for name, file in files.items():
        counts, bad = read_outbox(data / "outbox" / file, OUTBOX_KEYS[name])
        label = file.split(".")[0]
        report[f"{label}: expected (scheduled in histories)"] = len(expected[name])
        report[f"{label}: written"] = sum(counts.values())
        report[f"{label}: lost"] = len(expected[name] - set(counts))
        report[f"{label}: duplicated"] = sum(c - 1 for c in counts.values() if c > 1)
        report[f"{label}: unknown (no history)"] = len(set(counts) - expected[name])
        report[f"{label}: unreadable lines"] = bad
    return report


async def replay_all(address: str) -> dict[str, Any]:
    """Replay every dossier's history with the worker's code and sandbox (run from a snapshot)."""
    from runtime.replayer import new_replayer

    client = await ops.connect(address)
    replayer = new_replayer()
    failed: list[str] = []
    count = 0
    async for wf in client.list_workflows("WorkflowType = 'Dossier'"):
        history = await client.get_workflow_handle(wf.id).fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        count += 1
        if result.replay_failure is not None:
            failed.append(wf.id)
    return {"replayed": count, "failed": failed}


def replay_in_snapshot(address: str, code: Path) -> dict[str, Any]:
    """`replay_all` in a process that imports the snapshot the worker ran."""
    out = subprocess.run(
        [sys.executable, str(code / "bench" / "chaos.py"), "--replay-only", address],
        cwd=str(code),
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The whole run; the verification report and the run's description."""
    tmp = Path(tempfile.mkdtemp(prefix="motcua-chaos-"))
    data = tmp / "data"
    data.mkdir()
    # As a province runs it: the catalogue published, officers signed by the front door's key.
    publication.publish(data, load_catalogue(DEFAULT_CATALOG), "chaos")
    credentials.sign_with(credentials.local_signing(data))
    chaos = Chaos(tmp / "server", data, free_port(), free_port())
    rng = random.Random(args.seed)
    play.POLL_SECONDS = args.poll  # the bot's officers look at their dossiers this often
    failures: collections.Counter[str] = collections.Counter()
    await chaos.start_server()
    chaos.start_worker()
    done = asyncio.Event()
    started = time.perf_counter()
    load0 = load_average()
    try:
        assert chaos.server is not None
        supervisor = asyncio.create_task(chaos.supervise(done))
        every = tuple(float(x) for x in args.every.split("-", 1))
        assert len(every) == 2, "--every MIN-MAX"
        havoc = asyncio.create_task(
            chaos.havoc(args.kills, (every[0], every[1]), not args.no_server_restart, rng)
        )
        codes = await bot(
            chaos.server.address, args.dossiers, args.concurrency, args.seed, failures, args.stall
        )
        if not havoc.done():
            print("all dossiers finished before every kill was done", flush=True)
            havoc.cancel()
        elapsed = time.perf_counter() - started
        done.set()
        await supervisor
        client = await ops.connect(chaos.server.address)
        report = await verify(client, codes, data)
        replays = replay_in_snapshot(chaos.server.address, data.parent / "code")
        report["histories replayed offline"] = replays["replayed"]
        report["histories that fail to replay"] = len(replays["failed"])
        if replays["failed"]:
            print("do not replay: " + ", ".join(replays["failed"]), flush=True)
    finally:
        await chaos.stop()
    notes = [
        f"{args.dossiers} dossiers of {PROCEDURE} (online, approved path: 2 notifications, "
        f"10 portal records each), {args.concurrency} played at once, in {elapsed:.0f} s; "
        f"worker kill -9: {chaos.kills}, worker starts: {chaos.worker_starts} "
        f"(other exits: {chaos.worker_exits or 'none'}), server restarts: "
        f"{chaos.server_restarts}; load average {load0} at the start, {load_average()} at the "
        f"end; seed {args.seed}.",
        "Client calls that failed and were retried by the bot: "
        + (", ".join(f"{k} x{v}" for k, v in sorted(failures.items())) or "none")
        + ".",
    ]
    return report, notes


def main(argv: list[str] | None = None) -> int:
    """Run, verify, print; 1 if any dossier or outbox record is lost or duplicated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--dossiers", type=int, default=500)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--poll", type=float, default=1.0, help="bot's polling period, seconds")
    parser.add_argument(
        "--every", default="8-30", help="seconds between kills, MIN-MAX (uniformly drawn)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--stall", type=float, default=300, help="give up when no dossier ends for this long"
    )
    parser.add_argument("--no-server-restart", action="store_true")
    parser.add_argument("--record", action="store_true", help="write BENCHMARKS.md")
    parser.add_argument("--replay-only", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay_only:
        print(json.dumps(asyncio.run(replay_all(args.replay_only))))
        return 0
    report, notes = asyncio.run(run(args))
    lines = ["| check | figure |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report.items()]
    lines += ["", *notes]
    print("\n".join(lines))
    if args.record:
        record(
            ["    make chaos      # python bench/chaos.py --dossiers 500 --kills 10", "", *lines],
            SECTION,
        )
    bad = [
        k for k, v in report.items() if k.endswith(("lost", "duplicated", "unknown (no history)"))
    ]
    broken = any(report[k] for k in bad) or report["codes with more than one execution"]
    broken = broken or report["not completed (still running)"]
    broken = broken or report["approved"] != report["dossiers"]
    broken = broken or report["histories that fail to replay"]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
