"""`motcua task claim|complete|reassign|request-supplement|approve-apology`: officers act.

`--as USER@AGENCY/ROLE` goes through the identity resolver (`motcua.identity`); the dossier
workflow's validators decide whether that officer may act, and a refusal ends the command
with their reason.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import Client

from motcua import client, identity
from motcua.commands.output import add_common, emit
from workflows.api import Actor


def field(text: str) -> tuple[str, Any]:
    """`k=v`, with `v` read as a JSON scalar where it parses (`3`, `true`), else a string."""
    name, sep, raw = text.partition("=")
    if not (sep and name):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        return name, raw
    return name, value if isinstance(value, str | int | float | bool) else raw


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("task", help="claim, complete, reassign a task...")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("dossier", metavar="DOSSIER", help="dossier code")
        sub.add_argument("step", metavar="STEP", help="step id of the task")
        sub.add_argument(
            "--as",
            dest="actor",
            required=True,
            metavar="USER@AGENCY/ROLE",
            help="who acts (mapped by MOTCUA_IDENTITY; trusted as given by default)",
        )
        add_common(sub)
        return sub

    action("claim", "take an open task").set_defaults(handler=run_claim)
    done = action("complete", "decide a task")
    done.add_argument("--decision", required=True, help="one of the step's decisions")
    done.add_argument(
        "--field",
        action="append",
        type=field,
        default=[],
        metavar="k=v",
        dest="fields",
        help="a field of the step (repeatable); JSON scalars such as 3 or true are typed",
    )
    done.set_defaults(handler=run_complete)
    move = action("reassign", "hand a task to another officer or role (heads only)")
    move.add_argument("--to-user", help="the officer to hand the task to")
    move.add_argument("--to-role", help="the role (of the same agency) to hand it to")
    move.set_defaults(handler=run_reassign)
    ask = action("request-supplement", "ask the applicant for missing documents")
    ask.add_argument(
        "--missing", action="append", required=True, metavar="TEXT", help="repeat per item"
    )
    ask.add_argument("--reason", default="", help="why, for the applicant")
    ask.set_defaults(handler=run_request_supplement)
    letter = actions.add_parser(
        "approve-apology", help="approve the apology and new appointment date (form 04)"
    )
    letter.add_argument("dossier", metavar="DOSSIER", help="dossier code")
    letter.add_argument("--as", dest="actor", required=True, metavar="USER@AGENCY/ROLE")
    letter.add_argument(
        "--reason", required=True, help="why the dossier is late, for the applicant"
    )
    add_common(letter)
    letter.set_defaults(handler=run_approve_apology)


def _print(done: client.Acted, args: argparse.Namespace) -> int:
    emit(done, args.json, lambda: f"{done.code}: {done.message}")
    return 0


async def _act(
    args: argparse.Namespace,
    call: Callable[[Client, Actor], Awaitable[client.Acted]],
) -> int:
    """Resolve `--as`, run one operation on a fresh connection, print what it did."""
    actor = identity.resolve(args.actor)
    async with client.session(args.address) as temporal:
        done = await call(temporal, actor)
    return _print(done, args)


async def run_claim(args: argparse.Namespace) -> int:
    return await _act(args, lambda t, actor: client.claim(t, args.dossier, args.step, actor))


async def run_complete(args: argparse.Namespace) -> int:
    fields = dict(args.fields)
    return await _act(
        args,
        lambda t, actor: client.complete(t, args.dossier, args.step, actor, args.decision, fields),
    )


async def run_reassign(args: argparse.Namespace) -> int:
    return await _act(
        args,
        lambda t, actor: client.reassign(
            t, args.dossier, args.step, actor, args.to_user, args.to_role
        ),
    )


async def run_request_supplement(args: argparse.Namespace) -> int:
    return await _act(
        args,
        lambda t, actor: client.request_supplement(
            t, args.dossier, args.step, actor, args.missing, args.reason
        ),
    )


async def run_approve_apology(args: argparse.Namespace) -> int:
    return await _act(
        args, lambda t, actor: client.approve_apology(t, args.dossier, actor, args.reason)
    )
