"""`motcua demo`: the embedded default, real dossiers played to the end, then a clean stop."""

from __future__ import annotations

import argparse
from pathlib import Path

from temporalio.client import Client

from activities import DATA_DIR
from motcua import officers, publication
from motcua.client import credentials
from motcua.demo import report, run_cases
from motcua.devserver import DevServer
from procedures.loader import DEFAULT_CATALOG
from runtime.catalogue import catalogue_task_queues, load_catalogue
from runtime.codec import encrypted_converter
from runtime.keyring import load_keys
from runtime.trust import Trust
from runtime.workers import WorkerGroup


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `motcua demo`."""
    parser = subparsers.add_parser(
        "demo",
        help="run dossiers of three catalogue procedures end to end on the embedded server",
        description="Start the embedded Temporal server and a worker, submit dossiers of "
        "three catalogue procedures (inter-agency with parallel branches, one with a "
        "sub-procedure, one refused), act as the officers until each ends, print each "
        "dossier's code, timeline, result and documents, then stop what it started.",
    )
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="data folder")
    parser.add_argument("--port", type=int, default=7233, help="gRPC port (default 7233)")
    parser.add_argument("--ui-port", type=int, default=8233, help="Web UI port (default 8233)")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    """Everything the demo starts, it stops, also when interrupted."""
    catalog = load_catalogue(DEFAULT_CATALOG)
    queues = catalogue_task_queues(catalog)
    data = args.data.resolve()
    async with DevServer(data, port=args.port, ui_port=args.ui_port) as server:
        client = await Client.connect(
            server.address,
            namespace=server.namespace,
            data_converter=encrypted_converter(load_keys(data)),
        )
        print(f"Temporal server {server.address}, data in {data}", flush=True)
        # The demo publishes the catalogue, and plays the officers as its own front door.
        path, manifest = publication.publish(data, catalog, "motcua demo")
        print(f"Published {len(manifest.body.procedures)} procedure versions: {path}", flush=True)
        print(officers.demo_report(data, catalog), flush=True)
        with credentials.signing(credentials.local_signing(data)):
            async with WorkerGroup(client, queues, data, trust=Trust.of_data(data)):
                states = await run_cases(client)
        for state in states:
            print()
            print(report(state))
        print()
        print(f"Documents are under {data / 'results'}; outboxes under {data / 'outbox'}.")
        print(
            f"The dossiers are kept in {server.db_file}: run `motcua dev` and open the "
            f"Temporal Web UI at {server.ui_url} to browse their histories."
        )
    return 0
