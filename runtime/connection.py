"""The connection to Temporal: one `connect` for the worker, the command line and the client.

It reads temporalio's environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS,
API key; default localhost:7233), so the same code reaches the embedded dev server or a
production cluster, and converts payloads with pydantic (the workflows' inputs and states are
pydantic models), then encrypts them (runtime/codec.py) with the keys under `$MOTCUA_DATA` or
from the deployment's `MOTCUA_KEYS` hook.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig

from activities import DATA_DIR
from runtime.codec import encrypted_converter
from runtime.errors import UserError
from runtime.keyring import KeysUnavailable, load_keys

DEFAULT_ADDRESS = "localhost:7233"
PAYLOAD_CONVERTER = pydantic_data_converter.payload_converter
"""How values become payloads and back (pydantic), before encryption and after decryption."""
EXIT_GRACE = 0.1
"""Seconds a short-lived process waits after its last call before the interpreter finalises.

temporalio's native (Rust) threads may still be releasing Python objects just after a call
returns or a connection fails; finalising under them aborts the process ("PyGILState_Release:
thread state must be current", temporalio/sdk-python#300), about one exit in ten without it.
A client offers no close() to wait for instead."""


class ServerUnreachable(UserError):
    """The Temporal server at `address` does not answer."""

    def __init__(self, address: str, detail: str = "") -> None:
        super().__init__(f"cannot reach the Temporal server at {address}{detail}")
        self.address = address


@functools.cache
def data_converter() -> DataConverter:
    """How every client, worker and replayer of this process encodes payloads: pydantic, then
    AES-256-GCM (runtime/codec.py). Keys are read (made on first run) at the first call."""
    try:
        return encrypted_converter(load_keys(DATA_DIR))
    except KeysUnavailable as err:
        raise UserError(f"payload keys: {err}") from None


async def connect(address: str | None = None) -> Client:
    """Connect through temporalio's environment configuration (TEMPORAL_ADDRESS, namespace,
    TLS, API key), so the same code reaches the embedded server or a production cluster."""
    config = ClientConfig.load_client_connect_config()
    target = address or config.get("target_host") or DEFAULT_ADDRESS
    converter = data_converter()
    try:
        return await Client.connect(
            target,
            namespace=config.get("namespace", "default"),
            api_key=config.get("api_key"),
            tls=config.get("tls"),
            rpc_metadata=config.get("rpc_metadata", {}),
            data_converter=converter,
        )
    except RuntimeError as err:
        await asyncio.sleep(EXIT_GRACE)  # callers usually exit next: see EXIT_GRACE
        raise ServerUnreachable(target, _short(err)) from None


@asynccontextmanager
async def session(address: str | None = None) -> AsyncIterator[Client]:
    """A client for a short-lived process such as one command; see `EXIT_GRACE` on the way out."""
    connected = await connect(address)
    try:
        yield connected
    finally:
        await asyncio.sleep(EXIT_GRACE)


def _short(err: BaseException) -> str:
    text = str(err)
    for cause in ("Connection refused", "timed out", "dns error", "certificate"):
        if cause.lower() in text.lower():
            return f" ({cause.lower()})"
    return ""
