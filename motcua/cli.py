"""The `motcua` command: one sub-command module per concern under `motcua.commands`.

A user's mistake ends in a one-line error and exit status 1 or 2, never a traceback: each
command raises `UserError` for those, and `main` prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence

from runtime import logs
from runtime.errors import UserError

COMMAND_MODULES: tuple[str, ...] = (
    "motcua.commands.validate",
    "motcua.commands.schema",
    "motcua.commands.graph",
    "motcua.commands.dryrun",
    "motcua.commands.dev",
    "motcua.commands.web",
    "motcua.commands.demo",
    "motcua.commands.submit",
    "motcua.commands.inbox",
    "motcua.commands.task",
    "motcua.commands.event",
    "motcua.commands.citizen",
    "motcua.commands.show",
    "motcua.commands.audit",
    "motcua.commands.calendar",
    "motcua.commands.interpreters",
    "motcua.commands.indicators",
    "motcua.commands.keys",
    "motcua.commands.erase",
    "motcua.commands.codec",
    "motcua.commands.verify_document",
    "motcua.commands.setup",
    "motcua.commands.officers",
    "motcua.commands.publish",
    "motcua.commands.sweep",
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; each module adds its own sub-commands with `register`."""
    parser = argparse.ArgumentParser(
        prog="motcua", description="Vietnamese one-stop procedures as Temporal workflows."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    logs.configure()
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except UserError as err:
        print(f"motcua: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """The console script: `main`, then leave without Python's finalisation.

    temporalio's core runtime keeps native threads that can abort the interpreter while it
    finalises (`PyGILState_Release ... must be current`), turning a clean run into a crash at
    exit. Every command has finished and closed what it opened by now, so after flushing the
    output the process ends at once with the command's status.
    """
    try:
        code = main()
        sys.stdout.flush()
    except KeyboardInterrupt:  # before a command ran, while its modules were being imported
        code = 130
    except BrokenPipeError:  # `motcua show CODE | head`: the reader has all it wanted
        code = 141  # as a shell reports a process that SIGPIPE ended
    else:
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
