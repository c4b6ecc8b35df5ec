"""`motcua audit`: replay histories, print a dossier's audit trail, export and verify it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import Client

from motcua.audit import history as histories
from motcua.audit.history import HistoryError, Source
from runtime.errors import UserError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `audit` and its sub-commands."""
    audit = subparsers.add_parser(
        "audit", help="prove what happened to dossiers, from their Temporal histories"
    )
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    replay = sub.add_parser(
        "replay", help="replay histories against the current workflow code (determinism check)"
    )
    replay.add_argument("dossiers", nargs="*", metavar="DOSSIER", help="dossier codes")
    replay.add_argument("--query", help='a visibility query, e.g. ProcedureCode="1.001193"')
    replay.add_argument(
        "--file",
        nargs="+",
        type=Path,
        default=[],
        metavar="HISTORY.json",
        help="histories written by `temporal workflow show --output json`",
    )
    replay.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes replaying side by side (default: one per CPU, fewer for a few histories)",
    )
    replay.add_argument(
        "--concurrency", type=int, default=2, help="replays at once in each process (2)"
    )
    replay.set_defaults(handler=_replay)

    trail = sub.add_parser("trail", help="a dossier's audit trail, from its history alone")
    trail.add_argument("dossier", nargs="?", metavar="DOSSIER")
    trail.add_argument("--format", choices=("md", "html", "json"), default="md")
    trail.add_argument("--reveal", action="store_true", help="show personal data unmasked")
    trail.add_argument("--log", type=Path, help="structured log (JSON lines) with rejections")
    trail.add_argument(
        "--file",
        nargs="+",
        type=Path,
        default=[],
        metavar="HISTORY.json",
        help="read the history (its runs, in order) from files instead of the server",
    )
    trail.set_defaults(handler=_trail)

    export = sub.add_parser(
        "export", help="the masked trail and a manifest signed by the auditing service, to a folder"
    )
    export.add_argument("dossier", metavar="DOSSIER")
    export.add_argument("--out", type=Path, required=True, metavar="DIR")
    export.add_argument(
        "--full",
        action="store_true",
        help="also the raw histories and an unmasked trail: personal data in clear (logged)",
    )
    export.set_defaults(handler=_export)

    verify = sub.add_parser("verify", help="check an export's signature and every file it lists")
    verify.add_argument("folder", type=Path, metavar="DIR")
    verify.add_argument(
        "--key",
        type=Path,
        metavar="PUBKEY",
        help="the auditing service's public key (PEM) you trust"
        " (default: this data folder's, see `motcua audit key`)",
    )
    verify.set_defaults(handler=_verify)

    key = sub.add_parser("key", help="print the public key that signs exports (made if missing)")
    key.add_argument("--out", type=Path, metavar="FILE", help="write it to FILE instead")
    key.set_defaults(handler=_key)


async def _replay(args: argparse.Namespace) -> int:
    from motcua.audit.replay import Item, Progress, replay

    chosen = [bool(args.dossiers), args.query is not None, bool(args.file)]
    if sum(chosen) != 1:
        raise UserError("give dossier codes, or --query, or --file (exactly one of them)", 2)
    if args.concurrency < 1 or (args.jobs is not None and args.jobs < 1):
        raise UserError("--jobs and --concurrency must be at least 1", 2)
    total: int | None
    items: AsyncIterator[Item] | list[Item]
    if args.file:
        items, total = list(args.file), len(args.file)  # each read where it is replayed
    else:
        from runtime.connection import connect

        client = await connect()
        if args.query is not None:
            total = await histories.count(client, args.query)
            items = histories.query_runs(client, args.query)
        else:
            total = None
            items = _dossiers(client, args.dossiers)
    jobs = _processes(args.jobs, total if total is not None else len(args.dossiers))
    outcomes = await replay(
        items, concurrency=args.concurrency, jobs=jobs, progress=Progress(total)
    )
    for outcome in outcomes:
        print(outcome.line())
    failed = sum(not o.ok for o in outcomes)
    print(f"{len(outcomes) - failed} replayed cleanly, {failed} failed")
    return 1 if failed else 0


PER_PROCESS = 16
"""Histories each replay process gets at least, unless `--jobs` says otherwise: a process takes
about a second to start (its imports), the time of some fifteen replays."""


def _processes(asked: int | None, histories: int) -> int:
    """How many processes replay `histories` histories: as asked, never more than histories."""
    if asked is None:
        asked = min(os.cpu_count() or 1, histories // PER_PROCESS)
    return max(1, min(asked, histories))


async def _dossiers(client: Client, codes: list[str]) -> AsyncIterator[Source | HistoryError]:
    for code in codes:
        try:
            for run in await histories.fetch_runs(client, code):
                yield run
        except UserError as err:
            yield HistoryError(code, str(err))


async def _runs(dossier: str | None, files: list[Path]) -> list[Source]:
    if files:
        from runtime.connection import data_converter

        try:
            sources = [histories.read_file(p) for p in files]
            for source in sources:  # `temporal workflow show` files hold encrypted payloads
                await histories.decrypt(
                    data_converter().payload_codec, source.history, source.label
                )
        except HistoryError as err:
            raise UserError(str(err)) from err
        return sources
    if not dossier:
        raise UserError("give a dossier code or --file HISTORY.json", 2)
    from runtime.connection import connect

    return await histories.fetch_runs(await connect(), dossier)


async def _trail(args: argparse.Namespace) -> int:
    from motcua.audit.render import render
    from motcua.audit.trail import build_trail

    runs = await _runs(args.dossier, args.file)
    try:
        trail = build_trail([r.history for r in runs], reveal=args.reveal, log=args.log)
    except HistoryError as err:
        raise UserError(str(err)) from err
    sys.stdout.write(render(trail, args.format))
    return 0


async def _export(args: argparse.Namespace) -> int:
    from motcua.audit import export as exporting

    runs = await _runs(args.dossier, [])
    key = _signing_key()
    if args.full:
        _log_full_export(args.dossier, args.out)
    try:
        written = exporting.export([r.history for r in runs], args.out, key, full=args.full)
    except HistoryError as err:
        raise UserError(str(err)) from err
    except OSError as err:
        raise UserError(f"cannot write to {args.out}: {err.strerror or err}") from err
    for path in written:
        print(path)
    return 0


def _signing_key() -> Ed25519PrivateKey:
    from activities import DATA_DIR
    from activities.keyfiles import KeyFileError
    from motcua.audit import signing

    try:
        return signing.private_key(DATA_DIR)
    except (OSError, KeyFileError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) else str(err)
        folder = DATA_DIR / signing.KEY_FOLDER
        raise UserError(f"{folder}: no usable signing key: {reason}") from err


def _log_full_export(dossier: str, out: Path) -> None:
    """A full export puts personal data in clear on disk: say who made it, before writing it."""
    import getpass

    import structlog

    structlog.get_logger(__name__).warning(
        "full audit export", dossier_code=dossier, out=str(out), user=getpass.getuser()
    )


def _verify(args: argparse.Namespace) -> int:
    from activities import DATA_DIR
    from motcua.audit import signing
    from motcua.audit.verify import verify

    if not args.folder.is_dir():
        raise UserError(f"{args.folder}: no such folder")
    path = args.key or signing.public_key_path(DATA_DIR)
    if args.key is None and not path.is_file():
        raise UserError(f"{path}: no public key here; give the one you trust with --key", 2)
    if path.resolve().is_relative_to(args.folder.resolve()):
        raise UserError(f"{path}: a key inside the export proves nothing; give one from outside", 2)
    try:
        key = signing.load_public(path)
    except signing.TrustedKeyError as err:
        raise UserError(str(err), 2) from err
    result = verify(args.folder, key)
    for line in result.lines():
        print(line)
    return 0 if result.ok else 1


def _key(args: argparse.Namespace) -> int:
    from motcua.audit import signing

    pem = signing.public_pem(_signing_key().public_key())
    if args.out is None:
        sys.stdout.write(pem.decode())
        return 0
    try:
        args.out.write_bytes(pem)
    except OSError as err:
        raise UserError(f"cannot write {args.out}: {err.strerror or err}") from err
    print(args.out)
    return 0
