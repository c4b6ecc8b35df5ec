"""`motcua publish`: make the catalogue's procedure versions runnable on real dossiers.

Writes a manifest of every procedure's content hash and effective date, signed with the
publisher's Ed25519 key (`motcua.publication`); workers run only what it lists.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import date
from pathlib import Path

from activities import DATA_DIR
from motcua import publication
from procedures.loader import DEFAULT_CATALOG


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="sign the catalogue: only published procedure versions run",
        description="List the content hash and effective date of every procedure of the "
        "catalogue (sub-procedures included), sign the list with the publisher's key "
        "(<data>/identity/publisher-key.pem, created on first use) and write the manifest "
        "workers check each new dossier against.",
    )
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG, help="catalogue folder")
    parser.add_argument(
        "--data", type=Path, default=DATA_DIR, help="data folder (default: $MOTCUA_DATA or .data)"
    )
    parser.add_argument(
        "--publisher", default=None, help="who publishes, for the record (default: your login)"
    )
    parser.add_argument(
        "--effective",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="in effect from this day (default: each procedure's effective_from)",
    )
    parser.add_argument("--out", type=Path, help="manifest file (default <data>/published.json)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from runtime.catalogue import load_catalogue

    catalog = load_catalogue(args.catalog)
    publisher = args.publisher or getpass.getuser()
    path, manifest = publication.publish(
        args.data, catalog, publisher, effective_from=args.effective, out=args.out
    )
    count = len(manifest.body.procedures)
    print(f"published {count} procedure version(s) as {publisher} (key {manifest.kid}): {path}")
    return 0
