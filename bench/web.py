"""The web app under load: online submissions through the API, then officers' inbox pages.

    python bench/web.py [--dossiers 200] [--officers 10] [--rounds 5] [--concurrency 10]

Starts an embedded Temporal server on free ports in a temporary folder, `worker.py` and
`motcua web` as their own processes (the bench's HTTP clients do not share their CPU), then:

1. submits `--dossiers` dossiers of 2.000720 through `POST /api/v1/dossiers` (each with its
   scan uploaded first and its own Idempotency-Key), `--concurrency` at a time;
2. waits until visibility lists them all in the one-stop desk's inbox;
3. signs `--officers` officers of that desk in, and has each load the inbox page
   (`GET /officer`, HTML, with its counts) `--rounds` times, all officers at once.

Prints submissions per second and latency percentiles of both. The issue's target is an inbox
page p95 under 300 ms with 10,000 open dossiers and 50 officers (`--dossiers 10000
--officers 50`); that size needs a machine to itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import free_port, spawn_worker

from motcua import officers
from motcua.devserver import DevServer
from procedures.loader import load_catalog

PROCEDURE = "2.000720"
DESK = "one_stop.000.20.20.H26"
PASSWORD = "motcua-bench-password"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
APPLICANT = {"full_name": "Nguyễn Văn Bench", "id_number": "001099000001"}


def percentiles(seconds: list[float]) -> str:
    """p50 / p95 / max in milliseconds."""
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms"
    )


async def wait_http(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit(f"motcua web exited with {process.returncode}")
            try:
                if (await http.get("/openapi.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("motcua web did not answer")


async def submit_all(base: str, count: int, concurrency: int) -> list[float]:
    """Submit `count` dossiers, `concurrency` at a time; each one's seconds (upload + submit)."""
    gate = asyncio.Semaphore(concurrency)
    took: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def one() -> None:
            async with gate:
                t0 = time.perf_counter()
                scan = (await http.post("/api/v1/uploads", content=PDF)).json()["sha256"]
                answer = await http.post(
                    "/api/v1/dossiers",
                    json={
                        "procedure": PROCEDURE,
                        "applicant": APPLICANT,
                        "documents": {"application": scan},
                    },
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                answer.raise_for_status()
                took.append(time.perf_counter() - t0)

        await asyncio.gather(*(one() for _ in range(count)))
    return took


async def sign_in(base: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=base, timeout=60)
    answer = await http.post("/api/v1/session", json={"user": DESK, "password": PASSWORD})
    answer.raise_for_status()
    return http


async def wait_listed(base: str, count: int) -> float:
    """Seconds until the desk's inbox counts `count` dossiers (visibility catching up)."""
    t0 = time.perf_counter()
    http = await sign_in(base)
    try:
        while (await http.get("/api/v1/inbox", params={"page_size": 1})).json()["total"] < count:
            await asyncio.sleep(0.5)
    finally:
        await http.aclose()
    return time.perf_counter() - t0


async def inbox_pages(base: str, officers: int, rounds: int) -> list[float]:
    """Every officer loads the HTML inbox `rounds` times, all officers at once."""
    clients = [await sign_in(base) for _ in range(officers)]
    took: list[float] = []

    async def officer(http: httpx.AsyncClient) -> None:
        for _ in range(rounds):
            t0 = time.perf_counter()
            (await http.get("/officer")).raise_for_status()
            took.append(time.perf_counter() - t0)

    try:
        await asyncio.gather(*(officer(http) for http in clients))
    finally:
        for http in clients:
            await http.aclose()
    return took


async def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="motcua-web-bench-"))
    data = folder / "data"
    data.mkdir()
    (data / "identity").mkdir(mode=0o700)
    (data / "identity" / officers.DEMO_PASSWORD_FILE).write_text(PASSWORD + "\n")
    officers.ensure_demo_officers(data, load_catalog())
    server = DevServer(folder / "server", port=free_port(), ui_port=free_port())
    await server.start()
    worker = spawn_worker(server.address, data, script="worker.py")
    web_port = free_port()
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": server.address,
        "MOTCUA_WEB_SECRET": "b" * 40,
        "MOTCUA_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "motcua", "web", "--port", str(web_port), "--data", str(data)]
    web = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{web_port}"
    try:
        await wait_http(base, web)
        t0 = time.perf_counter()
        submitted = await submit_all(base, args.dossiers, args.concurrency)
        elapsed = time.perf_counter() - t0
        print(
            f"submissions: {args.dossiers} in {elapsed:.1f} s ({args.dossiers / elapsed:.1f}/s, "
            f"{args.concurrency} at a time): {percentiles(submitted)}"
        )
        print(f"visibility listed them all {await wait_listed(base, args.dossiers):.1f} s later")
        pages = await inbox_pages(base, args.officers, args.rounds)
        print(
            f"inbox page (HTML, with counts), {args.officers} officers x {args.rounds}, "
            f"{args.dossiers} open dossiers: {percentiles(pages)}"
        )
    finally:
        web.terminate()
        worker.terminate()
        web.wait(30)
        worker.wait(30)
        await server.stop()
        if args.keep:
            print(f"kept: {folder} (server, data, worker.log)")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dossiers", type=int, default=200)
    parser.add_argument("--officers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
