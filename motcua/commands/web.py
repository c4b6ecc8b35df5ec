"""`motcua web`: the web front door alone, against any Temporal (environment configuration).

For deployments: run several processes behind a load balancer, all with the same
`MOTCUA_WEB_SECRET` and data folder (or shared storage); see motcua.web for what each keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from activities import DATA_DIR
from motcua.web.app import create_app
from motcua.web.serve import check_port, serve
from motcua.web.settings import WebSettings, load_secret, metrics_token, scans_from_env
from motcua.web.sweep import MAX_SWEEP_HOURS, MIN_SWEEP_HOURS
from procedures.loader import DEFAULT_CATALOG
from runtime.errors import UserError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `motcua web`."""
    parser = subparsers.add_parser(
        "web",
        help="serve the web app (citizens, officers, JSON API) against a Temporal server",
        description="Serve the web front door. Temporal is reached through the environment "
        "configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key), with the payload "
        "keys of $MOTCUA_DATA like every command; cookies are signed with MOTCUA_WEB_SECRET "
        "(else a secret kept in the data folder).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--data", type=Path, default=DATA_DIR, help="data folder (default: $MOTCUA_DATA or .data)"
    )
    parser.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG, help="catalogue folder")
    parser.add_argument(
        "--https", action="store_true", help="mark cookies Secure (served behind HTTPS)"
    )
    parser.add_argument(
        "--trust-forwarded-for",
        action="store_true",
        help="rate-limit by X-Forwarded-For (only behind a proxy that sets it)",
    )
    parser.add_argument(
        "--inbox-cache",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="share an inbox page's listing this long between officers, its counts five times "
        "as long (default 2; 0 asks visibility for every page)",
    )
    parser.add_argument(
        "--metrics-token-file",
        type=Path,
        metavar="FILE",
        help="/metrics asks for this file's token as a bearer token (else "
        "MOTCUA_METRICS_TOKEN; with neither, only clients on this machine may read it)",
    )
    parser.add_argument(
        "--sweep-after",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="delete uploaded scans no dossier names once this old, checked hourly (default "
        "24, at least 2; 0: this process does not sweep, run `motcua sweep-scans` instead)",
    )
    parser.set_defaults(handler=run)


def settings_for(
    data: Path,
    inbox_cache: float = 2.0,
    token_file: Path | None = None,
    sweep_after: float = 24.0,
    **options: bool,
) -> WebSettings:
    """The settings of a process serving `data`."""
    data = data.resolve()
    if not 0 <= inbox_cache <= 60:
        raise UserError("--inbox-cache: between 0 and 60 seconds", exit_code=2)
    if sweep_after != 0 and not MIN_SWEEP_HOURS <= sweep_after <= MAX_SWEEP_HOURS:
        raise UserError(
            f"--sweep-after: 0, or between {MIN_SWEEP_HOURS} and {MAX_SWEEP_HOURS} hours",
            exit_code=2,
        )
    return WebSettings(
        data_dir=data,
        secret_key=load_secret(data),
        secure_cookies=options.get("https", False),
        trust_forwarded_for=options.get("trust_forwarded_for", False),
        inbox_page_seconds=inbox_cache,
        inbox_count_seconds=5 * inbox_cache,
        metrics_token=metrics_token(token_file),
        unattached_scan_hours=sweep_after or 24.0,
        sweep_every_seconds=3600.0 if sweep_after else 0.0,
        **scans_from_env(),
    )


async def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""
    settings = settings_for(
        args.data,
        args.inbox_cache,
        args.metrics_token_file,
        args.sweep_after,
        https=args.https,
        trust_forwarded_for=args.trust_forwarded_for,
    )
    check_port(args.host, args.port)
    app = create_app(settings, catalog_dir=args.catalog)
    print(f"Web: http://{args.host}:{args.port}  (API: /openapi.json)", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await serve(app, args.host, args.port, stop)
    return 0
