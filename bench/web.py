"""The web app under load: online submissions through the API, then officers' inbox pages.

    python bench/web.py [--seed 10000] [--dossiers 200] [--concurrency 20] [--officers 50]
                        [--seconds 60] [--think 0,2] [--inbox-cache 0,2,projection]

Starts an embedded Temporal server on free ports in a temporary folder, `worker.py` and
`motcua web` as their own processes (the bench's HTTP clients do not share their CPU), then:

1. seeds `--seed` open dossiers waiting on the one-stop desk of 000.20.20.H26 as visibility
   rows (below), ~20% of them overdue;
2. submits `--dossiers` real dossiers through `POST /api/v1/dossiers` (each with its scan
   uploaded first and its own Idempotency-Key), `--concurrency` at a time; the worker runs
   them to the desk's task, so the page's real paths (rows of real dossiers) run too;
3. waits until visibility lists them all in the desk's inbox;
4. signs `--officers` officers of that desk in through `POST /api/v1/session` (each their own
   login, argon2id-hashed like any officer's);
5. for each inbox of `--inbox-cache` in turn, a web process of its own: `motcua web
   --inbox-cache N` (visibility, its answers shared N seconds; 0 asks visibility for every
   page), or `projection`: the same app with its inbox answered by a read-model table (SQLite,
   indexed by agency, role, overdue and due instant: `Projection`) filled with the rows
   visibility lists, through `create_app(inbox=...)`. For each:
   - the officers sign in (`POST /api/v1/session`, each their own login, argon2id-hashed);
   - one page's parts alone, one call at a time: each visibility call of the inbox,
     `client.inbox`, the JSON inbox, the HTML page, its next page;
   - every officer loads inbox pages for `--seconds`, all at once, waiting `--think` seconds
     (each value in turn, 0 = none) between pages: the first page, the next page (its token),
     the overdue ones, one procedure's; latency percentiles per kind, errors, CPU per page of
     the web process and of the Temporal server.

Seeded rows: the real dossier is ~0.3 s of worker CPU to open (signed receipt PDF, portal
records), 50 minutes of a shared 2-core machine for 10,000. The inbox reads nothing but
visibility rows, so the seed writes those rows as a dossier leaves them after its receipt:
a workflow started with every search attribute a waiting dossier carries (`ProcedureCode`,
`PortalStatus`, `Overdue`, `PendingAgencies`, `PendingRoles`, `NextDueAt`, the indicators'
attributes) and a memo of the same size, on a task queue no worker polls (type `BenchSeed`,
ids `SEED-...`): it never runs, and visibility keeps its row as it keeps a dossier's. Only
the bench reads them; nobody opens them as a dossier.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import cpu_seconds, free_port, load_average, spawn_worker

from motcua import client as ops
from motcua import officers, publication
from motcua.client.views import InboxPage, InboxRow
from motcua.devserver import DevServer
from procedures.loader import load_catalog
from workflows import search_attributes as sa
from workflows.api import INTERPRETER, PortalStatus

PROCEDURE = "2.000720"
AGENCY = "000.20.20.H26"
ROLE = "one_stop"
DESK = f"{ROLE}.{AGENCY}"
PASSWORD = "motcua-bench-password"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
APPLICANT = {"full_name": "Nguyễn Văn Bench", "id_number": "001099000001"}
SEED_QUEUE = "bench-seed-unpolled"
KINDS = ("first", "next", "overdue", "procedure")


def pct(seconds: list[float], share: float) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def percentiles(seconds: list[float]) -> str:
    """p50 / p95 / p99 / max in milliseconds."""
    if not seconds:
        return "none"
    return (
        f"n {len(seconds)}, p50 {pct(seconds, 0.5):.0f} ms, p95 {pct(seconds, 0.95):.0f} ms, "
        f"p99 {pct(seconds, 0.99):.0f} ms, max {max(seconds) * 1000:.0f} ms"
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


def desk_procedures() -> list[str]:
    """The catalogue's procedures whose dossiers the desk receives."""
    found = [
        code
        for code, frozen in load_catalog().items()
        if frozen.procedure.agencies[frozen.procedure.receiving_agency].code == AGENCY
    ]
    return sorted(found) or [PROCEDURE]


async def seed(temporal: Client, count: int, concurrency: int = 64) -> float:
    """`count` visibility rows of dossiers waiting on the desk (module docstring); seconds."""
    procedures = desk_procedures()
    rng = random.Random(17)
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(concurrency)
    role = sa.pending_role(AGENCY, ROLE)

    async def one(i: int) -> None:
        overdue = rng.random() < 0.2
        received = now - timedelta(minutes=rng.randrange(1, 60 * 24 * 20))
        due = (
            now - timedelta(minutes=rng.randrange(1, 60 * 24 * 5))
            if overdue
            else now + timedelta(minutes=rng.randrange(60, 60 * 24 * 15))
        )
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(sa.PROCEDURE_CODE, procedures[i % len(procedures)]),
                SearchAttributePair(sa.PORTAL_STATUS, PortalStatus.RECEIVED.value),
                SearchAttributePair(sa.OVERDUE, overdue),
                SearchAttributePair(sa.INTERPRETER_VERSION, INTERPRETER),
                SearchAttributePair(sa.RECEIVING_AGENCY, AGENCY),
                SearchAttributePair(sa.SECTOR, "bench"),
                SearchAttributePair(sa.CHANNEL, "online"),
                SearchAttributePair(sa.RECEIVED_AT, received),
                SearchAttributePair(sa.DIGITISED, True),
                SearchAttributePair(sa.PENDING_AGENCIES, [AGENCY]),
                SearchAttributePair(sa.PENDING_ROLES, [role]),
                SearchAttributePair(sa.NEXT_DUE_AT, due),
                SearchAttributePair(sa.SUPPLEMENTS, 0.0),
                SearchAttributePair(sa.APOLOGIES, 0.0),
                SearchAttributePair(sa.PAID_ONLINE, False),
                SearchAttributePair(sa.PARTICIPANTS, [AGENCY]),
            ]
        )
        async with gate:
            await temporal.start_workflow(
                "BenchSeed",
                id=f"SEED-{i:06d}",
                task_queue=SEED_QUEUE,
                memo={"request": hashlib.sha256(str(i).encode()).hexdigest()},
                search_attributes=attributes,
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - t0


async def submit_all(
    base: str, count: int, concurrency: int
) -> tuple[list[float], dict[str, int], float]:
    """Submit `count` dossiers, `concurrency` at a time: each one's seconds (upload + submit),
    failures by status, and the elapsed seconds."""
    gate = asyncio.Semaphore(concurrency)
    took: list[float] = []
    failed: dict[str, int] = defaultdict(int)
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:

        async def one() -> None:
            async with gate:
                t0 = time.perf_counter()
                try:
                    upload = await http.post("/api/v1/uploads", content=PDF)
                    upload.raise_for_status()
                    answer = await http.post(
                        "/api/v1/dossiers",
                        json={
                            "procedure": PROCEDURE,
                            "applicant": APPLICANT,
                            "documents": {"application": upload.json()["sha256"]},
                        },
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                    answer.raise_for_status()
                except httpx.HTTPStatusError as err:
                    failed[str(err.response.status_code)] += 1
                    return
                except httpx.TransportError as err:
                    failed[type(err).__name__] += 1
                    return
                took.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
    return took, dict(failed), time.perf_counter() - t0


def add_officers(data: Path, count: int) -> list[str]:
    """`count` officers of the desk (`bench01`...), password `PASSWORD`."""
    path = officers.path_in(data)
    directory = officers.load(path)
    shared = officers.hash_password(PASSWORD)
    users = [f"bench{i:02d}" for i in range(1, count + 1)]
    for user in users:
        directory = officers.with_officer(
            directory,
            user,
            name=f"Bench {user}",
            agency=AGENCY,
            roles=(ROLE,),
            password_hash=shared,
        )
    officers.save(path, directory)
    return users


async def sign_in(base: str, user: str) -> tuple[httpx.AsyncClient, float]:
    http = httpx.AsyncClient(base_url=base, timeout=120)
    t0 = time.perf_counter()
    answer = await http.post("/api/v1/session", json={"user": user, "password": PASSWORD})
    answer.raise_for_status()
    return http, time.perf_counter() - t0


async def wait_listed(http: httpx.AsyncClient, count: int, timeout: float = 300) -> float:
    """Seconds until the desk's inbox counts `count` dossiers (visibility catching up)."""
    t0 = time.perf_counter()
    while True:
        total = (await http.get("/api/v1/inbox", params={"page_size": 1})).json()["total"]
        if total >= count:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"visibility lists {total} of {count} after {timeout} s")
        await asyncio.sleep(1)


NEXT = re.compile(r'href="(/officer\?[^"]*page=[^"]+)"')


def page_url(kind: str, first_html: str, procedure: str) -> str:
    if kind == "first":
        return "/officer"
    if kind == "overdue":
        return "/officer?overdue=1"
    if kind == "procedure":
        return f"/officer?procedure={procedure}"
    found = NEXT.search(first_html)
    if found is None:
        raise SystemExit("the first page has no next page link")
    return found.group(1).replace("&amp;", "&")


async def timed(make: Callable[[], Awaitable[Any]], times: int) -> list[float]:
    took = []
    for _ in range(times):
        t0 = time.perf_counter()
        await make()
        took.append(time.perf_counter() - t0)
    return took


async def profile(temporal: Client, http: httpx.AsyncClient, times: int = 20) -> list[str]:
    """One page's parts, each alone and one at a time (no other load)."""
    base = ops.inbox_query(AGENCY, ROLE)
    first = (await http.get("/officer")).text
    nxt = page_url("next", first, "")
    parts: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("visibility count, whole inbox", lambda: temporal.count_workflows(base)),
        (
            "visibility count, overdue part",
            lambda: temporal.count_workflows(f"{base} AND Overdue = true"),
        ),
        ("visibility list, a page of 25", lambda: _list(temporal, f"{base} AND Overdue = true")),
        ("client.inbox, first page (2 counts + list, together)", lambda: _inbox(temporal)),
        ("GET /api/v1/inbox?page_size=25 (JSON)", lambda: _get(http, "/api/v1/inbox?page_size=25")),
        ("GET /officer (HTML, first page)", lambda: _get(http, "/officer")),
        ("GET /officer next page (HTML)", lambda: _get(http, nxt)),
    ]
    lines = []
    for name, make in parts:
        await make()  # warm
        lines.append(f"  {name}: {percentiles(await timed(make, times))}")
    return lines


async def _list(temporal: Client, query: str) -> None:
    listing = temporal.list_workflows(query, page_size=25)
    await listing.fetch_next_page()


async def _inbox(temporal: Client) -> None:
    await ops.inbox(temporal, AGENCY, ROLE, page_size=25)


async def _get(http: httpx.AsyncClient, url: str) -> None:
    (await http.get(url)).raise_for_status()


async def load(
    clients: list[httpx.AsyncClient], seconds: float, think: float, procedure: str
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Every officer loads pages for `seconds`, cycling through KINDS from a random start."""
    took: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    stop = time.perf_counter() + seconds
    rng = random.Random(50)

    async def officer(http: httpx.AsyncClient, start: int) -> None:
        first = (await http.get("/officer")).text
        i = start
        await asyncio.sleep(rng.random() * max(think, 0.2))  # not all in step
        while time.perf_counter() < stop:
            kind = KINDS[i % len(KINDS)]
            i += 1
            url = page_url(kind, first, procedure)
            t0 = time.perf_counter()
            try:
                answer = await http.get(url)
                if answer.status_code != 200:
                    errors[str(answer.status_code)] += 1
                    continue
                if kind == "first":
                    first = answer.text
            except httpx.TransportError as err:
                errors[type(err).__name__] += 1
                continue
            took[kind].append(time.perf_counter() - t0)
            if think:
                await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))

    await asyncio.gather(*(officer(http, i) for i, http in enumerate(clients)))
    return took, errors


class Projection:
    """The read-model alternative, as a bench prototype: one row per open task's (dossier,
    agency, role) in a SQLite table indexed by agency, role, overdue and due instant, which a
    dossier's activity would write at every task change (not built: the bench fills it from
    visibility's rows, the same rows the inbox lists). Answers the inbox's three questions
    (count, overdue count, a page overdue first then by due instant, keyset-paged)."""

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS inbox_task (
        dossier TEXT NOT NULL, agency TEXT NOT NULL, role TEXT NOT NULL,
        procedure TEXT NOT NULL, status INTEGER NOT NULL, received_at TEXT NOT NULL,
        due_at TEXT NOT NULL, overdue INTEGER NOT NULL,
        PRIMARY KEY (dossier, agency, role));
    CREATE INDEX IF NOT EXISTS by_role ON inbox_task (agency, role, overdue, due_at, dossier);
    CREATE INDEX IF NOT EXISTS by_procedure ON inbox_task (agency, role, procedure, overdue);
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()
        with self.connect() as db:
            db.executescript(self.SCHEMA)

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False)
        db.execute("PRAGMA journal_mode=wal")
        return db

    def db(self) -> sqlite3.Connection:
        found: sqlite3.Connection | None = getattr(self.local, "db", None)
        if found is None:
            found = self.local.db = self.connect()
        return found

    async def fill(self, temporal: Client) -> int:
        """Every row of the desk's inbox, as visibility lists them."""
        rows = []
        async for wf in temporal.list_workflows(ops.inbox_query(AGENCY, ROLE), page_size=1000):
            found = wf.typed_search_attributes
            for pending in found.get(sa.PENDING_ROLES) or ():
                agency, _, role = pending.partition("/")
                due = found.get(sa.NEXT_DUE_AT) or datetime.max.replace(tzinfo=UTC)
                rows.append(
                    (
                        wf.id,
                        agency,
                        role,
                        found.get(sa.PROCEDURE_CODE) or "",
                        found.get(sa.PORTAL_STATUS) or 0,
                        wf.start_time.isoformat(),
                        due.isoformat(),
                        int(bool(found.get(sa.OVERDUE))),
                    )
                )
        with self.connect() as db:
            db.executemany("INSERT OR REPLACE INTO inbox_task VALUES (?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def page(
        self,
        overdue_only: bool = False,
        procedure: str | None = None,
        after: Any = None,
        *,
        agency: str = AGENCY,
        role: str | None = ROLE,
        size: int = 25,
    ) -> tuple[int, int, list[tuple[Any, ...]]]:
        """(count, overdue count, a page of (overdue, due_at, dossier, procedure, status,
        received_at, role)) after the keyset `after` (a row's first three values)."""
        db = self.db()
        where, args = "agency = ?", [agency]
        if role:
            where += " AND role = ?"
            args.append(role)
        if procedure:
            where += " AND procedure = ?"
            args.append(procedure)
        if overdue_only:
            where += " AND overdue = 1"
        total = db.execute(f"SELECT count(*) FROM inbox_task WHERE {where}", args).fetchone()[0]
        late = db.execute(
            f"SELECT count(*) FROM inbox_task WHERE {where} AND overdue = 1", args
        ).fetchone()[0]
        keyset, more = "", []
        if after is not None:
            keyset = " AND (-overdue, due_at, dossier) > (?, ?, ?)"
            more = [-after[0], after[1], after[2]]
        rows = db.execute(
            f"SELECT overdue, due_at, dossier, procedure, status, received_at, role "
            f"FROM inbox_task WHERE {where}{keyset} "
            f"ORDER BY overdue DESC, due_at, dossier LIMIT ?",
            [*args, *more, size],
        ).fetchall()
        return total, late, rows


class ProjectionInbox:
    """`client.inbox` answered by the projection (an `InboxSource`): what the web app would
    run if the read model were built, served by `--serve-projection` for the page's figures."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection

    async def __call__(
        self,
        client: Client,
        agency_code: str,
        role: str | None = None,
        overdue_only: bool = False,
        *,
        page_size: int = 50,
        page: str | None = None,
        details: bool = False,
        procedure: str | None = None,
        status: PortalStatus | None = None,
        cache: Any = None,
    ) -> InboxPage:
        after = json.loads(base64.urlsafe_b64decode(page)) if page else None
        total, late, rows = await asyncio.to_thread(
            self.projection.page,
            overdue_only,
            procedure,
            after and after["key"],
            agency=agency_code,
            role=role,
            size=page_size,
        )
        shown = after["shown"] if after else 0
        found = tuple(
            InboxRow(
                dossier=dossier,
                procedure_code=code,
                waiting_on=(task_role,),
                status=PortalStatus(status_),
                received_at=datetime.fromisoformat(received),
                due_at=datetime.fromisoformat(due),
                overdue=bool(late_),
            )
            for late_, due, dossier, code, status_, received, task_role in rows
        )
        token = None
        if len(rows) == page_size:
            key = {"key": list(rows[-1][:3]), "shown": shown + len(rows)}
            token = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
        return InboxPage(
            agency=agency_code,
            role=role,
            overdue_only=overdue_only,
            total=total,
            overdue=late,
            first=shown + 1,
            rows=found,
            next_page=token,
        )


def serve_projection(port: int, data: Path, db: Path) -> None:
    """`motcua web` with its inbox answered by the projection in `db` (`--serve-projection`)."""
    from motcua.commands.web import settings_for
    from motcua.web.app import create_app
    from motcua.web.serve import serve

    app = create_app(settings_for(data, 0), inbox=ProjectionInbox(Projection(db)))

    async def forever() -> None:
        await serve(app, "127.0.0.1", port, asyncio.Event())

    asyncio.run(forever())


def report_load(title: str, took: dict[str, list[float]], seconds: float) -> list[str]:
    every = [t for kind in KINDS for t in took.get(kind, [])]
    lines = [f"{title}: {len(every) / seconds:.1f} pages/s; all pages: {percentiles(every)}"]
    lines += [f"  {kind}: {percentiles(took.get(kind, []))}" for kind in KINDS]
    return lines


def start_web(
    data: Path, address: str, cache: str, projection: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`motcua web --inbox-cache cache` in its own process (or, given `projection`, the same
    app with its inbox answered by that table); its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "MOTCUA_WEB_SECRET": "b" * 40,
        "MOTCUA_LOG_LEVEL": "warning",
    }
    if projection is None:
        command = [sys.executable, "-m", "motcua", "web", "--port", str(port), "--data", str(data)]
        command += ["--inbox-cache", cache]
    else:
        command = [sys.executable, __file__, "--serve-projection", str(port), str(data)]
        command += [str(projection)]
    web = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parents[1])
    return web, f"http://127.0.0.1:{port}"


async def stop_web(web: subprocess.Popen[bytes]) -> None:
    web.terminate()
    await asyncio.to_thread(web.wait, 30)


async def run(args: argparse.Namespace) -> None:
    def say(line: str) -> None:
        print(line, flush=True)

    say(f"load average at start: {load_average()}")
    folder = Path(tempfile.mkdtemp(prefix="motcua-web-bench-"))
    data = folder / "data"
    data.mkdir()
    (data / "identity").mkdir(mode=0o700)
    (data / "identity" / officers.DEMO_PASSWORD_FILE).write_text(PASSWORD + "\n")
    officers.ensure_demo_officers(data, load_catalog())
    users = add_officers(data, args.officers)
    publication.publish(data, load_catalog(), "bench")  # as a province runs it
    server = DevServer(folder / "server", port=free_port(), ui_port=free_port())
    await server.start()
    server_pid = server._process.pid if server._process else 0
    worker = spawn_worker(server.address, data, script="worker.py")
    temporal = await Client.connect(server.address)
    variants = args.inbox_cache.split(",")
    thinks = [float(t) for t in args.think.split(",")]
    web, base = start_web(data, server.address, variants[0])
    clients: list[httpx.AsyncClient] = []
    try:
        await wait_http(base, web)
        if args.seed:
            took = await seed(temporal, args.seed)
            say(f"seeded {args.seed} visibility rows in {took:.0f} s ({args.seed / took:.0f}/s)")
        if args.dossiers:
            done, failed, elapsed = await submit_all(base, args.dossiers, args.concurrency)
            say(
                f"submissions through the API: {len(done)} of {args.dossiers} in {elapsed:.1f} s "
                f"({len(done) / elapsed:.1f}/s, {args.concurrency} at a time, load "
                f"{load_average()}): {percentiles(done)}; failed: {failed or 'none'}"
            )
        open_ = args.seed + args.dossiers
        procedure = desk_procedures()[0]
        for i, variant in enumerate(variants):
            table = None
            if variant == "projection":
                table = folder / "projection.sqlite"
                rows = await Projection(table).fill(temporal)
                say(f"projection filled with {rows} rows (the same rows visibility lists)")
            if i:
                await stop_web(web)
                web, base = start_web(data, server.address, variant, table)
                await wait_http(base, web)
            say(f"--- inbox from {variant if table else f'visibility, --inbox-cache {variant}'}")
            signed: list[float] = []
            for user in users:  # one after the other: argon2id is meant to be slow
                http, took_ = await sign_in(base, user)
                clients.append(http)
                signed.append(took_)
            say(f"sign-in of {len(users)} officers, one at a time: {percentiles(signed)}")
            if i == 0:
                listed = await wait_listed(clients[0], open_)
                say(f"visibility listed all {open_} {listed:.1f} s later")
                await asyncio.sleep(args.settle)  # let the worker finish the receipts
            say(f"one page's parts, alone (load {load_average()}):")
            for line in await profile(temporal, clients[0]):
                say(line)
            for think in thinks:
                cpu0 = cpu_seconds(web.pid), cpu_seconds(server_pid)
                t0 = time.perf_counter()
                took_pages, errors = await load(clients, args.seconds, think, procedure)
                elapsed = time.perf_counter() - t0
                cpu = cpu_seconds(web.pid) - cpu0[0], cpu_seconds(server_pid) - cpu0[1]
                pages = max(1, sum(len(v) for v in took_pages.values()))
                title = (
                    f"inbox pages (HTML), {args.officers} officers at once, think {think} s, "
                    f"{open_} open dossiers, {elapsed:.0f} s, load {load_average()}"
                )
                for line in report_load(title, took_pages, elapsed):
                    say(line)
                web_ms, server_ms = (c / pages * 1000 for c in cpu)
                say(
                    f"  errors: {dict(errors) or 'none'}; CPU per page: web process "
                    f"{web_ms:.1f} ms, Temporal server {server_ms:.1f} ms"
                )
            for http in clients:
                await http.aclose()
            clients = []
    finally:
        for http in clients:
            await http.aclose()
        await stop_web(web)
        worker.terminate()
        worker.wait(30)
        await server.stop()
        say(f"load average at the end: {load_average()}")
        if args.keep:
            print(f"kept: {folder} (server, data, worker.log)")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    if sys.argv[1:2] == ["--serve-projection"]:  # PORT DATA DB: the projection's web process
        serve_projection(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=10_000, help="seeded open dossiers")
    parser.add_argument("--dossiers", type=int, default=200, help="real submissions")
    parser.add_argument("--concurrency", type=int, default=20, help="submissions at a time")
    parser.add_argument("--officers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60, help="of inbox pages")
    parser.add_argument("--think", default="0,2", help="seconds between pages (values in turn)")
    parser.add_argument("--settle", type=float, default=0, help="seconds before profiling")
    parser.add_argument(
        "--inbox-cache",
        default="0,2,projection",
        help="inboxes measured in turn: `motcua web --inbox-cache` values, `projection`",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
