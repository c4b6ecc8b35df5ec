"""`motcua codec-server`: the codec server on its own, for a deployment's Web UI and CLI."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from activities import DATA_DIR
from motcua.codec_server import DEFAULT_PORT, READER_ROLES, CodecServer, create_app, load_verifier
from runtime.codec import EncryptionCodec, encrypted_converter
from runtime.errors import UserError
from runtime.keyring import KeysUnavailable, load_keys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `motcua codec-server`."""
    parser = subparsers.add_parser(
        "codec-server",
        help="serve /encode and /decode for Temporal's Web UI and CLI, behind bearer tokens",
        description="Decrypts payloads for callers whose bearer token the verifier accepts "
        "(MOTCUA_CODEC_VERIFIER=module:function, else the token file under the data folder) "
        "and whose role may read; logs every decode. `motcua dev` runs one itself.",
    )
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="data folder (keys, tokens)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    parser.add_argument(
        "--ui-origin",
        action="append",
        default=[],
        metavar="URL",
        help="the Temporal Web UI's origin, allowed by CORS (repeatable)",
    )
    parser.add_argument(
        "--reader-role",
        action="append",
        default=[],
        metavar="ROLE",
        help=f"a role that may decode (repeatable; default: {', '.join(sorted(READER_ROLES))})",
    )
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    data = args.data.resolve()
    try:
        converter = encrypted_converter(load_keys(data))
    except KeysUnavailable as err:
        raise UserError(f"payload keys: {err}") from None
    assert isinstance(converter.payload_codec, EncryptionCodec)
    app = create_app(
        converter.payload_codec,
        load_verifier(data),
        ui_origins=args.ui_origin or ["http://localhost:8233"],
        reader_roles=frozenset(args.reader_role) or READER_ROLES,
    )
    async with CodecServer(app, host=args.host, port=args.port) as server:
        print(f"Codec server: {server.url}; Ctrl-C stops it.", flush=True)
        await asyncio.Event().wait()
    return 0
