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

from identity import layout
from motcua import officers
from motcua.web.app import create_app
from motcua.web.serve import serve
from motcua.web.settings import WebSettings
from procedures.loader import load_catalog
from runtime.trust import Trust

PASSWORD = "motcua-test-password"
"""Every demo officer's password in these tests (`motcua dev` draws a random one)."""
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
"""The smallest file the app takes for a PDF scan (it judges by the first bytes)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def demo_officers(data_dir: Path) -> None:
    """The catalogue's demo officers (login `ROLE.AGENCY_CODE`), all with `PASSWORD`."""
    folder = data_dir / "identity"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / officers.DEMO_PASSWORD_FILE).write_text(PASSWORD + "\n")
    officers.ensure_demo_officers(data_dir, load_catalog())


def web_trust(data_dir: Path) -> Trust:
    """What the web tests' worker trusts: the assertions the app signs at sign-in (the data
    folder's officers key), not the conftest's front door; fixture procedures are drafts."""
    key = layout.officers_signer(data_dir).key()
    return Trust({key.kid: key.public}, drafts=True)


@asynccontextmanager
async def serve_web(temporal: Client, data_dir: Path, **settings: object) -> AsyncIterator[str]:
    """Serve the app on a free port; yields its base URL. The demo officers can sign in."""
    config = WebSettings(data_dir=data_dir, secret_key="t" * 40, **settings)  # type: ignore[arg-type]
    demo_officers(data_dir)
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
