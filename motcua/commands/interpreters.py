"""`motcua interpreters`: how many open dossiers run under each interpreter version.

The first step of retiring a version (docs/auditing.md, "Retiring a version"): a version no
open dossier runs under can lose its legacy module and golden histories once the open ones of
the versions kept have replayed. The counts come from visibility: `InterpreterVersion` is set
when a dossier starts. Open dossiers without it (started before the attribute existed, or by a
client that does not set it) are counted apart: replay them to learn their version.
"""

from __future__ import annotations

import argparse
import asyncio

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from motcua import client
from motcua.commands.output import add_common, emit
from runtime.errors import UserError
from workflows import search_attributes as sa
from workflows.api import DOSSIER_WORKFLOW, INTERPRETER
from workflows.behaviours import BEHAVIOURS

OPEN_DOSSIERS = f"WorkflowType = '{DOSSIER_WORKFLOW}' AND ExecutionStatus = 'Running'"


class VersionCount(BaseModel):
    """Open dossiers of one interpreter version; `version` None: not recorded on them."""

    version: int | None
    open: int
    behaviours: tuple[str, ...] = ()
    current: bool = False


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "interpreters", help="open dossiers per interpreter version (before retiring one)"
    )
    add_common(parser)
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    async with client.session(args.address) as temporal:
        counts = await count_open(temporal)
    emit(counts, args.json, lambda: render(counts))
    return 0


async def count_open(temporal: Client) -> list[VersionCount]:
    """One count query per known version, and one for all open dossiers (the rest: unrecorded).

    Visibility is eventually consistent: a dossier that started or ended a moment ago may be
    missing or still counted.
    """
    versions = sorted(BEHAVIOURS)
    queries = [OPEN_DOSSIERS]
    queries += [f"{OPEN_DOSSIERS} AND {sa.INTERPRETER_VERSION.name} = {v}" for v in versions]
    try:
        total, *per_version = await asyncio.gather(*map(temporal.count_workflows, queries))
    except RPCError as err:
        if err.status is RPCStatusCode.UNAVAILABLE:
            raise client.ServerUnreachable(temporal.service_client.config.target_host) from None
        raise UserError(f"the server refused the count query: {err.message}") from None
    counts = [
        VersionCount(
            version=v,
            open=c.count,
            behaviours=tuple(sorted(BEHAVIOURS[v])),
            current=v == INTERPRETER,
        )
        for v, c in zip(versions, per_version, strict=True)
    ]
    unrecorded = total.count - sum(c.open for c in counts)
    return [*counts, VersionCount(version=None, open=max(unrecorded, 0))]


def render(counts: list[VersionCount]) -> str:
    lines = [f"{'version':<11} {'open':>6}  behaviours"]
    for c in counts:
        if c.version is None:
            why = "no InterpreterVersion: replay them to learn it"
            lines.append(f"{'unrecorded':<11} {c.open:>6}  ({why})")
            continue
        label = f"{c.version}" + (" (new)" if c.current else "")
        lines.append(f"{label:<11} {c.open:>6}  {', '.join(c.behaviours) or '-'}")
    return "\n".join(lines)
