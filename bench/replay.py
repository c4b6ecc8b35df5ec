"""Histories replayed per second, as `motcua audit replay` does it, for a 10-step dossier.

    python bench/replay.py [--count 300] [--concurrency 4] [--processes 2] [--record]

Replays one golden history (`tests/histories/1.013978-rework-payment.json`: a land
certificate with nine task visits, a rework loop, a payment wait and automatic steps, 286
events) `--count` times through `motcua.audit.replay.replay`, first in one process, then split
over `--processes` processes (each its own replayers), and prints the figures. `--record`
writes them into the `## Replay (bench/replay.py)` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HISTORY = ROOT / "tests" / "histories" / "1.013978-rework-payment.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
SECTION = "## Replay (bench/replay.py)"


def replay_many(count: int, concurrency: int) -> float:
    """Seconds to replay the history `count` times (after one warm-up replay); all must pass."""
    from motcua.audit.history import read_file
    from motcua.audit.replay import replay

    source = read_file(HISTORY)
    asyncio.run(replay([source], concurrency=1))
    started = time.perf_counter()
    outcomes = asyncio.run(replay([source] * count, concurrency=concurrency))
    elapsed = time.perf_counter() - started
    failed = [o.line() for o in outcomes if not o.ok]
    if failed:
        raise SystemExit(f"replay failed: {failed[0]}")
    return elapsed


def in_processes(count: int, concurrency: int, processes: int) -> float:
    """Histories per second with the work split over `processes` spawned processes."""
    share = count // processes
    context = multiprocessing.get_context("spawn")  # temporal's runtime must not be forked
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        seconds = list(pool.map(replay_many, [share] * processes, [concurrency] * processes))
    return share * processes / max(seconds)


def record(lines: list[str]) -> None:
    """Replace (or add) this benchmark's section of BENCHMARKS.md, keeping the others."""
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    section = "\n".join([SECTION, "", *lines]) + "\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    BENCHMARKS.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and record when asked; 1 when the 100 /s target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--record", action="store_true", help="write BENCHMARKS.md")
    args = parser.parse_args(argv)
    single = args.count / replay_many(args.count, args.concurrency)
    print(f"one process, {args.concurrency} replayers: {single:,.0f} /s")
    spread = in_processes(args.count, args.concurrency, args.processes)
    print(f"{args.processes} processes, {args.concurrency} replayers each: {spread:,.0f} /s")
    if args.record:
        record(
            [
                "Replays of one recorded 10-step dossier (land certificate `1.013978`: nine task",
                "visits with a rework loop, a payment wait, automatic steps; 286 events) against",
                "the current workflow code, with the worker's sandbox restrictions and the",
                "pydantic data converter, as `motcua audit replay` runs them. Target: 100 /s.",
                "",
                f"    python bench/replay.py --count {args.count} --record",
                "",
                "| what | figure |",
                "|---|---|",
                f"| one process, {args.concurrency} replayers | {single:,.0f} /s |",
                f"| {args.processes} processes | {spread:,.0f} /s |",
                "",
                f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, load average"
                f" {os.getloadavg()[0]:.1f} from other work while measured.",
                "",
                "The target is missed. Profiled per history (about 100 ms of CPU, 45 workflow",
                "tasks): half in the SDK's activation plumbing (protobuf, payload visiting,",
                "serialisation contexts, sandbox proxies), a third in the workflow code itself",
                "(`_publish` recomputing due instants and search attributes on every activation),",
                "the rest in the Rust core. Sharing modules with the sandbox instead of",
                "re-importing them per run took it from 13 to 17 /s on a shorter history; an",
                "unsandboxed replayer doubles it but would miss what the sandbox forbids. Replays",
                "scale with processes (cores), not with replayers in one process.",
            ]
        )
    return 0 if max(single, spread) >= 100 else 1


if __name__ == "__main__":
    sys.exit(main())
