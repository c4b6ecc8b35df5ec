"""Time an officer's inbox against a running server, e.g. while bench/scale.py opens dossiers.

    python bench/inbox.py ADDRESS [--agency 000.00.19.H26] [--role one_stop] [--tries 3]
    python bench/inbox.py --dir /var/tmp/motcua-scale [--settle 45]   # after bench/scale.py

With `--dir`, the server is started here on the SQLite file a `bench/scale.py --dir` run left
(`<dir>/server`), with one `worker.py` on its data folder for `--details`, which is given
`--settle` seconds to start first; both are stopped at the end.

Prints the number of dossiers, then the seconds `motcua.client.inbox` takes for the first page
(with its counts), the first page with `--details`, and the next page.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import spawn_worker

from motcua import client as ops
from motcua.devserver import DevServer
from workflows.api import DOSSIER_WORKFLOW

T = TypeVar("T")


async def timed(call: Awaitable[T]) -> tuple[float, T]:
    """Seconds one call took, and its result."""
    t0 = time.perf_counter()
    result = await call
    return time.perf_counter() - t0, result


async def run(args: argparse.Namespace) -> None:
    """Time the inbox on the server at `args.address`, or on one started on `args.dir`."""
    if args.dir is None:
        await measure(args.address, args)
        return
    async with DevServer(args.dir / "server", port=args.port, ui_port=args.port + 1) as server:
        worker = spawn_worker(
            server.address, args.dir / "data", ["--max-cached-workflows", "500"], "worker.py"
        )
        try:
            await asyncio.sleep(args.settle)
            await measure(server.address, args)
        finally:
            worker.terminate()
            worker.wait()


async def measure(address: str, args: argparse.Namespace) -> None:
    """Count the dossiers, then time the inbox pages."""
    client = await ops.connect(address)
    total = (await client.count_workflows(f"WorkflowType = '{DOSSIER_WORKFLOW}'")).count
    print(f"dossiers: {total:,}")
    for label, details in (("first page", False), ("first page --details", True)):
        times = []
        for _ in range(args.tries):
            took, page = await timed(ops.inbox(client, args.agency, args.role, details=details))
            times.append(f"{took:.2f}")
        print(f"{label} ({len(page.rows)} of {page.total:,}): {' / '.join(times)} s")
    took, nxt = await timed(ops.inbox(client, args.agency, args.role, page=page.next_page))
    print(f"next page ({len(nxt.rows)}): {took:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("address", nargs="?", help="a running server (or use --dir)")
    parser.add_argument("--dir", type=Path, help="a bench/scale.py --dir folder to serve")
    parser.add_argument("--port", type=int, default=27233, help="gRPC port with --dir")
    parser.add_argument("--settle", type=float, default=45.0, help="seconds before timing")
    parser.add_argument("--agency", default="000.00.19.H26")
    parser.add_argument("--role", default="one_stop")
    parser.add_argument("--tries", type=int, default=3)
    args = parser.parse_args()
    if (args.address is None) == (args.dir is None):
        parser.error("give a server ADDRESS or --dir, not both")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
