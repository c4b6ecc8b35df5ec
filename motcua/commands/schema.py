"""`motcua schema [--out FILE]`: the JSON Schema of the procedure language, for editors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from procedures.schema import schema_json
from runtime.errors import UserError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `schema`."""
    parser = subparsers.add_parser(
        "schema", help="print the JSON Schema of procedure files (yaml-language-server)"
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="write it to FILE instead")
    parser.set_defaults(handler=schema)


def schema(args: argparse.Namespace) -> int:
    """Print the schema, or write it where asked."""
    text = schema_json()
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write {args.out}: {err.strerror}", 2) from None
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
