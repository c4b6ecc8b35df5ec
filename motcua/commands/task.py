"""`motcua task claim|complete|reassign|redistribute|request-supplement|approve-apology`:
officers act.

An officer acts as `motcua login` made them: the cached signed assertion goes with the update,
and the dossier workflow's validators verify it and decide whether that officer may act; a
refusal ends the command with their reason. `--as USER@AGENCY/ROLE` (mapped by the identity
resolver, `motcua.identity`) is for the embedded default's tests and demos only: it signs with
the data folder's officers key, so it works only where that private key is readable.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities import DATA_DIR
from motcua import client, identity, login
from motcua.client import credentials
from motcua.commands.output import add_common, emit
from runtime.errors import UserError
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
        _identity_options(sub)
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
    move.add_argument("--reason", default="", help="why, recorded in the dossier's history")
    move.set_defaults(handler=run_reassign)
    bulk = actions.add_parser(
        "redistribute",
        help="hand every task an officer has claimed to another officer or role (heads only)",
        description="For an officer on leave or gone: each task the officer has claimed in "
        "the agency is reassigned with the reason, recorded in each dossier's history; one "
        "line per task says whether it was done or why the workflow refused it.",
    )
    bulk.add_argument("--from", dest="from_user", required=True, help="the absent officer")
    target = bulk.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", dest="to_user", help="the officer who takes the work over")
    target.add_argument("--to-role", help="hand the work back to a role's shared inbox")
    bulk.add_argument("--reason", required=True, help="why: recorded in each dossier's history")
    bulk.add_argument("--agency", help="agency code whose tasks to list (default: yours)")
    _identity_options(bulk)
    add_common(bulk)
    bulk.set_defaults(handler=run_redistribute)
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
    _identity_options(letter)
    letter.add_argument(
        "--reason", required=True, help="why the dossier is late, for the applicant"
    )
    add_common(letter)
    letter.set_defaults(handler=run_approve_apology)


def _identity_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as",
        dest="actor",
        metavar="USER@AGENCY/ROLE",
        help="tests and demos on the embedded default only: act as this officer, signed with "
        "the data folder's officers key (default: as your `motcua login`)",
    )
    parser.add_argument(
        "--data", type=Path, default=DATA_DIR, help="data folder whose key `--as` signs with"
    )


async def _officer(args: argparse.Namespace) -> tuple[Actor, str]:
    """Who acts, and the assertion that proves it: the cached login, or with `--as` one
    signed here (by the process's own front door if it has one, else the data folder's key)."""
    if args.actor is None:
        session = login.cached()
        claims = session.claims
        return Actor.signed(claims), session.token
    actor = identity.resolve(args.actor)
    return actor, await signed_here(actor, args.data)


async def signed_here(actor: Actor, data: Path) -> str:
    """An assertion for `actor` signed in this process: by its own front door if it has one,
    else with the data folder's officers key (the embedded default only)."""
    signed = await credentials.assertion_for(actor, None)
    if signed is not None:
        return signed
    key = login.signer(data).private_path
    if not key.exists():
        raise UserError(
            f"--as signs with the officers' key of the embedded default, and {key} does not "
            "exist: log in with `motcua login --user USER` instead",
            exit_code=2,
        )
    return await credentials.local_signing(data)(actor)


def _print(done: client.Acted, args: argparse.Namespace) -> int:
    emit(done, args.json, lambda: f"{done.code}: {done.message}")
    return 0


async def _act(
    args: argparse.Namespace,
    call: Callable[[Client, Actor, str], Awaitable[client.Acted]],
) -> int:
    """Find who acts, run one operation on a fresh connection, print what it did."""
    actor, assertion = await _officer(args)
    async with client.session(args.address) as temporal:
        done = await call(temporal, actor, assertion)
    return _print(done, args)


async def run_claim(args: argparse.Namespace) -> int:
    return await _act(
        args,
        lambda t, actor, signed: client.claim(t, args.dossier, args.step, actor, assertion=signed),
    )


async def run_complete(args: argparse.Namespace) -> int:
    fields = dict(args.fields)
    return await _act(
        args,
        lambda t, actor, signed: client.complete(
            t, args.dossier, args.step, actor, args.decision, fields, assertion=signed
        ),
    )


async def run_reassign(args: argparse.Namespace) -> int:
    return await _act(
        args,
        lambda t, actor, signed: client.reassign(
            t,
            args.dossier,
            args.step,
            actor,
            args.to_user,
            args.to_role,
            reason=args.reason,
            assertion=signed,
        ),
    )


async def run_redistribute(args: argparse.Namespace) -> int:
    """Exit 0 when every task was handed over, 1 when the workflow refused any."""
    actor, assertion = await _officer(args)
    async with client.session(args.address) as temporal:
        results = await client.redistribute(
            temporal,
            actor,
            args.from_user,
            reason=args.reason,
            to_user=args.to_user,
            to_role=args.to_role,
            agency=args.agency,
            assertion=assertion,
        )

    def text() -> str:
        lines = [
            f"{r.dossier} {r.step}: {'done' if r.done else 'refused'}: {r.message}" for r in results
        ]
        done = sum(r.done for r in results)
        lines.append(f"{done} of {len(results)} task(s) of {args.from_user} handed over")
        return "\n".join(lines)

    emit(results, args.json, text)
    return 0 if all(r.done for r in results) else 1


async def run_request_supplement(args: argparse.Namespace) -> int:
    return await _act(
        args,
        lambda t, actor, signed: client.request_supplement(
            t, args.dossier, args.step, actor, args.missing, args.reason, assertion=signed
        ),
    )


async def run_approve_apology(args: argparse.Namespace) -> int:
    return await _act(
        args,
        lambda t, actor, signed: client.approve_apology(
            t, args.dossier, actor, args.reason, assertion=signed
        ),
    )
