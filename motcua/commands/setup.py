"""`motcua setup`: prepare a Temporal namespace for motcua (its custom search attributes).

The embedded server gets them when `motcua dev` starts it; a self-hosted cluster or a Temporal
Cloud namespace needs them once, before the first worker starts (a dossier upserting an
unknown attribute fails its workflow task and retries for ever). On a cluster this goes
through the operator service (`OperatorService.AddSearchAttributes`), reached like every
other command through temporalio's environment configuration (address, namespace, TLS, API
key). Temporal Cloud does not take that call from a namespace's clients: `--cloud` prints
the `tcld` commands an account administrator runs instead (docs/deployment.md).
"""

from __future__ import annotations

import argparse

from temporalio.service import RPCError, RPCStatusCode

from motcua.commands.output import add_common
from motcua.devserver import CLI_TYPE_NAMES, register_search_attributes
from runtime.errors import UserError
from workflows.search_attributes import ALL


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `motcua setup`."""
    parser = subparsers.add_parser(
        "setup",
        help="register motcua's search attributes on a Temporal namespace",
        description="Register motcua's custom search attributes on the namespace the "
        "environment configuration names (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API "
        "key, or a TEMPORAL_PROFILE). Running it again changes nothing.",
    )
    add_common(parser)
    parser.add_argument(
        "--cloud",
        metavar="NAMESPACE",
        help="print the tcld commands that register them on this Temporal Cloud namespace",
    )
    parser.set_defaults(handler=run)


def cloud_commands(namespace: str) -> list[str]:
    """`tcld` command lines adding each attribute to a Temporal Cloud namespace."""
    return [
        f"tcld namespace search-attributes add --namespace {namespace} "
        f"--search-attribute '{key.name}={CLI_TYPE_NAMES[key.indexed_value_type]}'"
        for key in ALL
    ]


async def run(args: argparse.Namespace) -> int:
    if args.cloud:
        print("\n".join(cloud_commands(args.cloud)))
        return 0
    from motcua.client import session

    async with session(args.address) as client:
        where = f"namespace {client.namespace} at {client.service_client.config.target_host}"
        try:
            added = await register_search_attributes(client)
        except RPCError as err:
            if err.status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED):
                raise UserError(
                    f"{where} refuses to add search attributes ({err.message}); on Temporal "
                    "Cloud run the commands of `motcua setup --cloud NAMESPACE`"
                ) from None
            raise UserError(
                f"cannot register search attributes on {where}: {err.message}"
            ) from None
    present = ", ".join(f"{key.name} ({CLI_TYPE_NAMES[key.indexed_value_type]})" for key in ALL)
    if args.json:
        import json

        print(json.dumps({"namespace": client.namespace, "added": added}))
    else:
        print(f"{where}: added {', '.join(added) or 'nothing'}; motcua's attributes: {present}")
    return 0
