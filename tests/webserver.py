"""The web app served for real (uvicorn on a free port) beside a dev server and a worker.

Tests reach it over HTTP (httpx, Chromium), exactly as a citizen or an officer would.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client

from motcua.web.app import create_app
from motcua.web.auth import write_demo_directory
from motcua.web.serve import serve
from motcua.web.settings import WebSettings
from procedures.loader import load_catalog

PASSWORD = "motcua-demo"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
"""The smallest file the app takes for a PDF scan (it judges by the first bytes)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serve_web(temporal: Client, data_dir: Path, **settings: object) -> AsyncIterator[str]:
    """Serve the app on a free port; yields its base URL. The demo officers can sign in."""
    config = WebSettings(data_dir=data_dir, secret_key="t" * 40, **settings)  # type: ignore[arg-type]
    write_demo_directory(config.officers_file, load_catalog().values())
    app = create_app(config, temporal=temporal)
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, "127.0.0.1", port, stop))
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await task
