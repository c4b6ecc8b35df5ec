"""`motcua keys`: the local keyring's master keys, rotated in two phases (docs/security.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from activities import DATA_DIR
from runtime.errors import UserError
from runtime.keyring import Keyring, KeysUnavailable, local_keys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `motcua keys` and its actions."""
    keys = subparsers.add_parser(
        "keys", help="master keys of the local keyring: list, add, use, rewrap, retire"
    )
    keys.add_argument("--data", type=Path, default=DATA_DIR, help="data folder")
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="the keys, the current one marked")
    sub.add_parser("add", help="phase 1: a new key every reader learns; writers keep theirs")
    use = sub.add_parser("use", help="phase 2, once every reader has it: new payloads use KEY")
    use.add_argument("key")
    sub.add_parser("rewrap", help="wrap every dossier data key under the current key")
    retire = sub.add_parser("retire", help="forget KEY, once nothing it protects remains")
    retire.add_argument("key")
    keys.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        source = local_keys(args.data.resolve())
        ring = source.master
        assert isinstance(ring, Keyring)
        action = args.keys_command
        if action == "add":
            print(ring.add())
        elif action == "use":
            ring.use(args.key)
        elif action == "retire":
            ring.retire(args.key)
        elif action == "rewrap":
            print(f"{source.rewrap()} dossier keys rewrapped under {ring.current}")
        for key_id in sorted(ring.keys) if action == "list" else ():
            print(f"{key_id}{'  (current)' if key_id == ring.current else ''}")
    except KeysUnavailable as err:
        raise UserError(str(err)) from None
    return 0
