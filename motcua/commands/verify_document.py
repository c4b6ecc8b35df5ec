"""`motcua verify-document`: check a signed receipt or result offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime.errors import UserError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify-document",
        help="check a signed PDF (receipt, result): signer agency, time, unmodified",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the PDF")
    parser.add_argument(
        "--trust",
        type=Path,
        metavar="ROOT.pem",
        help="the trust root certificate (default: the data folder's local CA, pki/ca.pem)",
    )
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    from activities import DATA_DIR
    from activities.keyfiles import KeyFileError
    from activities.pki import LocalCA, load_certificate
    from motcua.verify_document import DocumentError, check, read_pdf

    root_path = args.trust or LocalCA(DATA_DIR).root_path
    if args.trust is None and not root_path.is_file():
        raise UserError(f"{root_path}: no local CA here; give the trust root with --trust", 2)
    try:
        root = load_certificate(root_path)
    except (OSError, ValueError, KeyFileError) as err:
        reason = err.strerror if isinstance(err, OSError) else str(err)
        raise UserError(f"{root_path}: not a readable PEM certificate ({reason})", 2) from err
    try:
        data = read_pdf(args.file)
    except DocumentError as err:
        raise UserError(str(err)) from err
    result = await check(data, root)
    for line in result.lines():
        print(line)
    return 0 if result.ok else 1
