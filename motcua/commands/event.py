"""`motcua event DOSSIER EVENT [--data FILE.json]`: deliver an external event a `wait` step
waits for (payment received, the couple signed the register...), without raw `temporal` JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from activities import DATA_DIR
from motcua import client, identity, login
from motcua.commands.files import json_object
from motcua.commands.output import add_common, emit
from motcua.commands.task import signed_here
from runtime.errors import UserError
from workflows.api import Actor

MAX_DATA_BYTES = 64 * 1024
"""An event's data is a few facts (an amount, a receipt number), not a document."""
DEFAULT_ACTOR = "event@{agency}/system"
"""Who delivers when `--as` is not given: the receiving agency's systems."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "event",
        help="deliver an external event a dossier waits for (e.g. payment_received)",
        description="Deliver an event to a dossier whose `wait` step waits for it; refused, "
        "with the events it waits for, otherwise.",
    )
    parser.add_argument("dossier", metavar="DOSSIER", help="dossier code")
    parser.add_argument("event", metavar="EVENT", help="the event's name, as the wait step says")
    parser.add_argument(
        "--data", type=Path, metavar="FILE.json", help="facts that come with it (JSON object)"
    )
    parser.add_argument(
        "--as",
        dest="actor",
        metavar="USER@AGENCY/ROLE",
        help="who delivers it, signed with the embedded default's officers key (default: "
        "your `motcua login`, else the receiving agency's systems, event@AGENCY/system)",
    )
    add_common(parser)
    parser.set_defaults(handler=run)


async def _deliverer(args: argparse.Namespace) -> tuple[Actor, str]:
    """Who delivers, with the signed assertion every officer's update carries: `--as`, else
    the logged-in officer, else the receiving agency's systems, signed like `--as`."""
    if args.actor is None:
        try:
            session = login.cached()
        except UserError:
            session = None
        if session is not None:
            return Actor.signed(session.claims), session.token
    agency = args.dossier.rsplit("-", 2)[0]
    actor = identity.resolve(args.actor or DEFAULT_ACTOR.format(agency=agency))
    try:
        return actor, await signed_here(actor, DATA_DIR)
    except UserError:
        if args.actor is not None:
            raise
        raise UserError("not logged in: run `motcua login --user USER` first") from None


async def run(args: argparse.Namespace) -> int:
    data = json_object(args.data, "--data", MAX_DATA_BYTES) if args.data else {}
    actor, assertion = await _deliverer(args)
    async with client.session(args.address) as temporal:
        done = await client.deliver_event(
            temporal, args.dossier, args.event, actor, data, assertion=assertion
        )
    emit(done, args.json, lambda: f"{done.code}: {done.message}")
    return 0
