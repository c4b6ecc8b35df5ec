"""`motcua erase`: destroy a closed dossier's data key once its retention period has ended."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from activities import DATA_DIR
from runtime.errors import UserError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `motcua erase`."""
    parser = subparsers.add_parser(
        "erase",
        help="erase a closed dossier's personal data after its retention period",
        description="Keep the dossier's audit trail without personal data, then destroy the "
        "dossier's data key: its payloads in Temporal (and every copy) can no longer be "
        "decrypted. Sub-dossiers share the key and are erased with it. Irreversible.",
    )
    parser.add_argument("dossier", metavar="DOSSIER", help="the (root) dossier code")
    parser.add_argument(
        "--retention-days",
        type=int,
        required=True,
        metavar="N",
        help="the retention period for this procedure's records: refused before it ends",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="folder for the kept trail (default: DATA/erased)",
    )
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    """Erase one dossier and say where its non-personal trail is."""
    from motcua.erasure import erase
    from runtime.connection import session

    if not 0 <= args.retention_days <= 365 * 100:
        raise UserError("--retention-days must be between 0 and 36500", 2)
    keep = args.keep or DATA_DIR / "erased"
    async with session() as client:
        done = await erase(
            client,
            args.dossier,
            keep,
            retention=timedelta(days=args.retention_days),
            now=datetime.now(UTC),
        )
    print(f"{done.code}: personal data erased at {done.at.isoformat()}; trail kept in {done.trail}")
    return 0
