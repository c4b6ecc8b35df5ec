"""`motcua graph FILE`: a procedure as a Mermaid flowchart (agencies as subgraphs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from procedures.errors import ProcedureError
from procedures.graph import to_mermaid
from procedures.loader import load_procedure
from runtime.errors import UserError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `graph`."""
    parser = subparsers.add_parser("graph", help="print a procedure as a Mermaid flowchart")
    parser.add_argument("file", type=Path, metavar="FILE", help="a procedure file")
    parser.add_argument(
        "--catalog", type=Path, metavar="DIR", help="where its sub-procedures are (its folder)"
    )
    parser.set_defaults(handler=graph)


def graph(args: argparse.Namespace) -> int:
    """Print the flowchart; a file with problems prints them instead, on stderr."""
    if not args.file.is_file():
        raise UserError(f"no such file: {args.file}", 2)
    try:
        frozen = load_procedure(args.file, catalog_dir=args.catalog)
    except ProcedureError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        return 1
    sys.stdout.write(to_mermaid(frozen))
    return 0
