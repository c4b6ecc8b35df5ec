"""Serving the web app with uvicorn inside an asyncio program (`motcua web`, `motcua dev`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from runtime.errors import UserError


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the caller's stop event ends it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def check_port(host: str, port: int, option: str = "--port") -> None:
    """A one-line error when the port is taken, before anything else starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((host if host != "0.0.0.0" else "127.0.0.1", port)) == 0:
            raise UserError(f"port {port} is in use; choose another with {option}")


async def serve(
    app: FastAPI, host: str, port: int, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    """Serve until `stop` is set (requests in flight finish first); `ready` once listening."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, proxy_headers=False
    )
    server = _Server(config)

    async def watch() -> None:
        while ready is not None and not server.started and not stop.is_set():
            await asyncio.sleep(0.02)
        if ready is not None:
            ready.set()
        await stop.wait()
        server.should_exit = True

    watcher = asyncio.create_task(watch())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        if ready is not None:
            ready.set()  # a server that failed to start must not leave its waiter hanging
    if not server.started:
        raise UserError(f"the web server could not listen on {host}:{port}")
