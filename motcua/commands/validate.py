"""`motcua validate [PATH...]`: check procedure files and print every problem, located.

Problems go to stdout as `file:line:col: message (hint: ...)`, one a line, so editors and CI
can jump to them; the summary goes to stderr. Exit status 1 when any problem is found.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from procedures.errors import Problem, ProcedureError
from procedures.loader import DEFAULT_CATALOG, load_catalog, load_procedure
from runtime.errors import UserError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `validate`."""
    parser = subparsers.add_parser(
        "validate", help="check procedure files (default: the packaged catalogue)"
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="procedure files or folders of them"
    )
    parser.set_defaults(handler=validate)


def validate(args: argparse.Namespace) -> int:
    """Check each path; a folder is checked as a catalogue (codes unique, sub-procedures
    resolved among its files), a file with sub-procedures looked up in its own folder."""
    paths: list[Path] = args.paths or [DEFAULT_CATALOG]
    for path in paths:
        if not path.exists():
            raise UserError(f"no such file or folder: {path}", 2)
    problems: list[Problem] = []
    files = 0
    for path in paths:
        try:
            if path.is_dir():
                found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
                if not found:
                    raise UserError(f"no procedure files (*.yaml) in {path}", 2)
                files += len(found)
                load_catalog(path)
            else:
                files += 1
                load_procedure(path)
        except ProcedureError as err:
            problems += err.problems
    problems = located(problems)
    for problem in problems:
        print(problem)
    faulty = len({problem.file for problem in problems})
    if problems:
        plural = "s" if len(problems) != 1 else ""
        print(
            f"{len(problems)} problem{plural} in {faulty} file(s); {files} checked", file=sys.stderr
        )
        return 1
    print(f"{files} procedure file(s) valid", file=sys.stderr)
    return 0


def located(problems: Iterable[Problem]) -> list[Problem]:
    """The problems as they are printed: each once, files relative to the current folder."""
    return list(dict.fromkeys(_shown(problem) for problem in problems))


def _shown(problem: Problem) -> Problem:
    """The problem with its file relative to the current folder when inside it."""
    relative = os.path.relpath(problem.file)
    if relative.startswith(".."):
        return problem
    return dataclasses.replace(problem, file=relative)
