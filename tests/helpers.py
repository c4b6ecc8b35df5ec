"""Helpers shared by several test modules (test modules never import each other).

- A catalogue fixture to edit (`FIXTURES`, `FULL`, `edit`) and where a problem points (`at`,
  `seen`).
- `Setup`: fresh agencies, two procedures (normal: days; fast: a one-minute step) and a calendar
  open round the clock, for tests against a real dev server; `serving` adds a worker on their
  queue, `submit` a fresh dossier.
- Trust: the front door's key of the tests (`FRONT_DOOR`), what test workers trust
  (`TEST_TRUST`: its public key, drafts allowed), and `signed` to sign a raw update input the
  way the front door would (conftest.py signs every client operation with it).
- Waiting: `eventually` polls a condition that only eventual consistency delays (visibility,
  files written by activities), bounded; `settled` waits until a history stops growing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import jwt
import pytest_asyncio
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from identity import assertions, keys
from motcua import client as ops
from motcua.devserver import find_binary, register_search_attributes, shut_down
from motcua.web.storage import Attachment, Storage
from motcua.web.sweep import sweep_unattached
from procedures.errors import Problem
from procedures.legaltime.calendar import OfficeHours, WorkCalendar, load_calendar
from procedures.loader import DEFAULT_CATALOG, load_procedure
from procedures.models import Channel, FrozenProcedure
from runtime import logs
from runtime.connection import data_converter
from runtime.trust import Trust
from workflows.api import Actor, Applicant, DossierState, TaskStatus
from workflows.search_attributes import ALL

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

FRONT_DOOR = keys.generate()
"""The front door's signing key in tests; workers of the tests trust its public key."""
TEST_TRUST = Trust({FRONT_DOOR.kid: FRONT_DOOR.public}, drafts=True)
"""What test workers trust: the tests' front door, and every procedure (fixtures are drafts)."""


def sign(actor: Actor, key: keys.SigningKey = FRONT_DOOR, **options: Any) -> str:
    """An assertion for `actor` signed by `key`, valid from now unless `now=` says otherwise
    (`lifetime=`, `dossier=`, `task=` as `identity.assertions.issue` takes them)."""
    options.setdefault("now", datetime.now(UTC))
    return assertions.issue(
        key.private, key.kid, user=actor.user, agency=actor.agency, role=actor.role, **options
    )


def long_lived(actor: Actor) -> str:
    """The tests' front door's assertion for `actor`, valid a year either side of now: tests
    on the time-skipping server move workflow time by days, past any real lifetime. (The
    front door never issues such a token; `verify` accepts it since the signature is good.)"""
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, Any] = {"user": actor.user, "agency": actor.agency, "role": actor.role}
    claims |= {"iat": now - 366 * 86400, "exp": now + 366 * 86400}
    return jwt.encode(
        claims, FRONT_DOOR.private, algorithm="EdDSA", headers={"kid": FRONT_DOOR.kid}
    )


async def front_door_signing(actor: Actor) -> str:
    """What conftest.py installs for client operations (`motcua.client.credentials`)."""
    return long_lived(actor)


def signed(body: M) -> M:
    """An officer's raw update input with the assertion for its `actor`."""
    actor = getattr(body, "actor")  # noqa: B009 - every officer's input has one
    return body.model_copy(update={"assertion": long_lived(actor)})


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "procedures"
FULL = (FIXTURES / "catalog" / "full.yaml").read_text("utf-8")


def edit(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def catalogue_copy(folder: Path, name: str, *changes: tuple[str, str]) -> FrozenProcedure:
    """Catalogue file `name` edited by `changes` (each must match once), loaded from a copy
    in `folder` with the catalogue's form templates beside it, as its own folder holds them."""
    source = (DEFAULT_CATALOG / name).read_text("utf-8")
    for old, _ in changes:
        assert source.count(old) == 1, old
    shutil.copytree(DEFAULT_CATALOG.parent / "forms", folder / "forms", dirs_exist_ok=True)
    (folder / "catalog").mkdir(exist_ok=True)
    path = folder / "catalog" / name
    path.write_text(edit(source, *changes), "utf-8")
    return load_procedure(path)


def at(text: str, needle: str) -> tuple[int, int]:
    index = text.index(needle)
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def seen(found: list[Problem]) -> list[tuple[str, str | None, int, int]]:
    return [(p.message, p.hint, p.line, p.column) for p in found]


FORMS = Path(__file__).resolve().parents[1] / "procedures" / "forms"
ALL_DAY = OfficeHours(periods=((time(0, 0), time(23, 59, 59)),), cutoff=time(23, 59, 59))
APPLICANT = Applicant(full_name="Trần Văn An", id_number="001090000123", phone="0900000000")

PROCEDURE = """\
code: "{code}"
name: "Thủ tục thử nghiệm cho ứng dụng khách ({code})"
version: "test.1"
legal_basis: ["Test fixture, not a real procedure"]
effective_from: 2025-07-01
sector: "Thử nghiệm"
level: commune
channels: [online, in_person]
time_limit: {{amount: {limit}, unit: {unit}}}
max_extensions: 1
supplement:
  wait: {{amount: 5, unit: {unit}}}
receiving_agency: desk
agencies:
  desk:
    code: "{desk}"
    name: "Bộ phận Một cửa (thử)"
    task_queue: "{queue}"
    roles: [one_stop, head]
    hours: {{periods: [["00:00", "23:59:59"]], cutoff: "23:59:59"}}
  office:
    code: "{office}"
    name: "Phòng Kinh tế (thử)"
    task_queue: "{queue}"
    roles: [specialist, head]
    hours: {{periods: [["00:00", "23:59:59"]], cutoff: "23:59:59"}}
documents:
  - {{id: application, name: "Đơn đề nghị"}}
  - {{id: drawing, name: "Bản vẽ"}}
results:
  - {{id: permit, name: "Giấy phép (thử)"}}
forms:
{forms}
start: receive
steps:
  receive:
    kind: task
    title: "Tiếp nhận hồ sơ"
    agency: desk
    role: one_stop
    share: {share}
    supplement_allowed: true
    decisions: {{accept: review, refuse: refused}}
  review:
    kind: task
    title: "Thẩm định"
    agency: office
    role: specialist
    share: {share}
    decisions: {{approve: approved, refuse: refused}}
    fields:
      floors: {{type: integer, required: true}}
      note: {{type: string}}
  approved: {{kind: end, result: approved, form: result}}
  refused: {{kind: end, result: refused, form: refusal}}
"""


FORM_TITLES = {
    "receipt": ("01", "Giấy tiếp nhận hồ sơ và hẹn trả kết quả"),
    "supplement_request": ("02", "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ"),
    "refusal": ("03", "Phiếu từ chối tiếp nhận giải quyết hồ sơ"),
    "control_slip": ("05", "Phiếu kiểm soát quá trình giải quyết hồ sơ"),
    "stop_notice": ("05", "Thông báo dừng xử lý hồ sơ"),
    "result": ("KQ", "Thông báo kết quả giải quyết hồ sơ"),
}


def forms_yaml(folder: Path) -> str:
    """The `forms:` entries of a procedure written in `folder`, with the shipped templates by
    relative path (absolute paths are refused: templates stay in the catalogue)."""
    shipped = os.path.relpath(FORMS, folder)
    return "\n".join(
        f'  {kind}: {{number: "{number}", title: "{title}", template: "{shipped}/{kind}.html.j2"}}'
        for kind, (number, title) in FORM_TITLES.items()
    )


@dataclass(frozen=True)
class Setup:
    """One test run's agencies, procedures and calendar, and the client that reaches them."""

    client: Client
    address: str
    desk: str
    office: str
    queue: str
    normal: FrozenProcedure
    fast: FrozenProcedure
    calendar: WorkCalendar
    folder: Path

    def desk_officer(self, role: str = "one_stop", user: str = "lan") -> Actor:
        return Actor(user=user, agency=self.desk, role=role)

    def specialist(self, user: str = "minh") -> Actor:
        return Actor(user=user, agency=self.office, role="specialist")


def make_setup(client: Client, folder: Path) -> Setup:
    """Write the two test procedures (normal: days; fast: a one-minute step) and a calendar."""
    run = uuid.uuid4().hex[:6].upper()
    desk, office, queue = f"T{run}.01.H26", f"T{run}.02.H26", f"ops-{run}"
    common = {"desk": desk, "office": office, "queue": queue, "forms": forms_yaml(folder)}
    paths = {}
    serial = int(run, 16) % 10**6
    variants = {
        "normal": {"code": f"8.{serial:06d}", "limit": 10, "unit": "working_days", "share": 1},
        "fast": {"code": f"8.{serial:06d}1", "limit": 8, "unit": "working_hours", "share": 0.017},
    }
    for name, values in variants.items():
        path = folder / f"{name}.yaml"
        path.write_text(PROCEDURE.format(**common, **values), encoding="utf-8")
        paths[name] = path
    return Setup(
        client=client,
        address=client.service_client.config.target_host,
        desk=desk,
        office=office,
        queue=queue,
        normal=load_procedure(paths["normal"]),
        fast=load_procedure(paths["fast"]),
        calendar=always_open(load_calendar(), (desk, office)),
        folder=folder,
    )


def always_open(cal: WorkCalendar, agencies: tuple[str, ...]) -> WorkCalendar:
    """Today and the next days are working days, and `agencies` never close."""
    today = date.today()
    days = {today + timedelta(days=i) for i in range(-1, 5)}
    return cal.model_copy(
        update={
            "non_working": tuple(d for d in cal.non_working if d not in days),
            "working": tuple(sorted(set(cal.working) | {d for d in days if d.weekday() >= 5})),
            "agency_hours": {**cal.agency_hours, **dict.fromkeys(agencies, ALL_DAY)},
        }
    )


@asynccontextmanager
async def serving(client: Client, folder: Path) -> AsyncIterator[Setup]:
    """Fresh agencies and procedures, and a worker on their queue, for a whole test module.

    Module scope (hence `WorkerGroup` itself rather than the function-scoped `run_worker`):
    one worker serves the module's dossiers, and the slow overdue dossier can start first.
    """
    from runtime.workers import WorkerGroup

    # Bind structlog's output now, to the session's stream: configured first inside a test's
    # capsys (by `motcua.cli.main`), it would keep writing to that test's closed buffer, and
    # the worker's activities, which log, would fail from the next test on.
    logs.configure()
    ready = make_setup(client, folder)
    (folder / "data").mkdir()
    async with WorkerGroup(client, [ready.queue], folder / "data", trust=TEST_TRUST):
        yield ready


async def submit(s: Setup, procedure: FrozenProcedure | None = None, **kw: Any) -> ops.Submitted:
    """A fresh dossier: a new applicant each time unless one is given."""
    applicant = kw.pop("applicant", None) or APPLICANT.model_copy(
        update={"id_number": uuid.uuid4().hex[:12]}
    )
    return await ops.submit(
        s.client,
        procedure or s.normal,
        applicant,
        kw.pop("channel", Channel.IN_PERSON),
        kw.pop("form", {}),
        kw.pop("documents", ("application",)),
        calendar=s.calendar,
        **kw,
    )


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    timeout: float = 15,
    what: str = "condition",
    every: float = 0.25,
) -> T:
    """Poll `check` until it returns something truthy, for at most `timeout` seconds.

    Only for what no SDK call can wait on: visibility (eventually consistent), a workflow's
    state seen through its query, files written by activities."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


async def open_task(s: Setup, code: str, step: str) -> DossierState:
    """Wait until `step` is open in the dossier and its history has settled."""

    async def ready() -> DossierState | None:
        state = await ops.show(s.client, code)
        opened = any(t.step == step and t.status is TaskStatus.OPEN for t in state.tasks)
        return state if opened else None

    state = await eventually(ready, what=f"task {step} of {code}")
    await settled(s.client.get_workflow_handle(code))
    return state


async def settled(handle: WorkflowHandle[Any, Any], every: float = 0.5, timeout: float = 15) -> int:
    """The history length once the workflow has stopped adding events (activities done): the
    same length twice, `every` seconds apart."""
    lengths = [-1]

    async def still() -> bool:
        lengths.append(len((await handle.fetch_history()).events))
        return lengths[-1] == lengths[-2]

    await eventually(still, timeout=timeout, what="a settled history", every=every)
    return lengths[-1]


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server with motcua's search attributes. The session
    shares one (conftest `ts_env`); a module whose dossiers skip months takes its own, so the
    session's clock stays within the year the tests' officer assertions are valid."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(find_binary("temporal-test-server")),
        data_converter=data_converter(),
    )
    try:
        await register_search_attributes(env.client, ALL)
        yield env
    finally:
        await shut_down(env)


def own_time_skipping_server() -> Any:
    """A module's own `ts_env` fixture (`ts_env = own_time_skipping_server()`): for dossiers that
    skip months, or that need the clock near today, since the session's server may be years
    ahead (awaiting a result skips to far timers), past the officer assertions' year."""

    @pytest_asyncio.fixture(scope="module", loop_scope="session", name="ts_env")
    async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
        async with time_skipping_server() as env:
            yield env

    return ts_env


def sweeps_only_old_unattached_scans(store: Storage) -> None:
    """The sweep's rule on any storage: a scan no dossier names goes once old, a named one
    stays whatever its age, a young one stays (`motcua.web.sweep`)."""
    run = uuid.uuid4().hex.encode()
    loose, kept = b"%PDF-1.4 loose " + run, b"%PDF-1.4 attached " + run
    loose_sha, kept_sha = store.put(loose), store.put(kept)
    named = Attachment(
        document="application",
        sha256=kept_sha,
        size=len(kept),
        content_type="application/pdf",
        at=datetime.now(UTC),
    )
    store.attach(f"D-{run.decode()[:8]}", [named])
    young = sweep_unattached(store)
    assert young.deleted == 0 and store.get(loose_sha) == loose
    assert young.attached >= 1
    later = datetime.now(UTC) + timedelta(hours=25)
    counted = sweep_unattached(store, now=later, dry_run=True)
    assert counted.deleted >= 1 and store.get(loose_sha) == loose  # a dry run deletes nothing
    swept = sweep_unattached(store, now=later)
    assert swept.deleted >= 1 and swept.freed_bytes >= len(loose)
    assert store.get(loose_sha) is None
    assert store.get(kept_sha) == kept  # a dossier names it: never deleted
    assert kept_sha in store.referenced()
