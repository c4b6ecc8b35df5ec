"""`motcua sweep-scans`: delete the scans no dossier names, older than a bound, from the scan
storage the web app uses (`MOTCUA_SCANS`: the data folder's, or an S3 bucket). The web app
sweeps every hour by itself; this is for cron, or a deployment that turned that off."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from activities import DATA_DIR
from motcua.commands.output import emit
from runtime.errors import UserError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `motcua sweep-scans`."""
    parser = subparsers.add_parser(
        "sweep-scans",
        help="delete uploaded scans no dossier names, once older than a bound",
        description="Delete the scans no dossier's list names that were last stored more than "
        "--older-than hours ago, from the storage MOTCUA_SCANS names (default: the data "
        "folder's). A scan a dossier names is never deleted.",
    )
    parser.add_argument(
        "--data", type=Path, default=DATA_DIR, help="data folder (default: $MOTCUA_DATA or .data)"
    )
    parser.add_argument(
        "--older-than",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="age bound in hours (default 24, at least 2)",
    )
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from motcua.web.app import open_storage  # the web app's modules: only this command pays
    from motcua.web.settings import WebSettings, scans_from_env
    from motcua.web.sweep import MAX_SWEEP_HOURS, MIN_SWEEP_HOURS, sweep_unattached

    if not MIN_SWEEP_HOURS <= args.older_than <= MAX_SWEEP_HOURS:
        raise UserError(
            f"--older-than: between {MIN_SWEEP_HOURS} and {MAX_SWEEP_HOURS} hours", exit_code=2
        )
    max_age = timedelta(hours=args.older_than)
    if not args.data.is_dir():
        raise UserError(f"--data {args.data}: no such folder", exit_code=2)
    settings = WebSettings(data_dir=args.data.resolve(), secret_key="", **scans_from_env())
    swept = sweep_unattached(open_storage(settings), max_age, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    emit(
        swept,
        args.json,
        lambda: (
            f"{swept.examined} scans examined, {swept.attached} named by a dossier (kept), "
            f"{verb} {swept.deleted} unattached older than {args.older_than:g} h"
            + ("" if args.dry_run else f" ({swept.freed_bytes} bytes freed)")
        ),
    )
    return 0
