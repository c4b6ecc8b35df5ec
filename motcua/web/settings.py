"""The web app's settings: where data lives, the cookie secret, and every size limit."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from runtime.errors import UserError

SECRET_ENV = "MOTCUA_WEB_SECRET"
SCANS_ENV = "MOTCUA_SCANS"
METRICS_TOKEN_ENV = "MOTCUA_METRICS_TOKEN"
MIN_TOKEN = 16
MAX_TOKEN = 512
MiB = 1024 * 1024


@dataclass(frozen=True)
class WebSettings:
    """One deployment's settings; every process behind a load balancer must share them."""

    data_dir: Path
    secret_key: str
    secure_cookies: bool = False
    """Mark cookies `Secure` (set when served over HTTPS)."""
    max_upload_bytes: int = 10 * MiB
    """Largest scan accepted, per file."""
    max_files: int = 20
    """Most files in one submission or supplement."""
    max_form_bytes: int = 64 * 1024
    """Largest application form, task fields or text field (uploads aside)."""
    max_json_bytes: int = 128 * 1024
    """Largest request body without scans (JSON, a page's form): a full application form and
    its envelope; larger ones are refused from their Content-Length, unread."""
    lookups_per_window: int = 10
    """Status lookups allowed per client address (and per dossier code) per window."""
    lookup_window_seconds: int = 300
    feedbacks_per_window: int = 5
    """Feedback (phản ánh, kiến nghị) sent per client address per lookup window."""
    logins_per_window: int = 10
    """Officer login attempts allowed per user name (and per address) per window."""
    trust_forwarded_for: bool = False
    """Take the client's address from X-Forwarded-For (only behind a proxy that sets it)."""
    session_hours: int = 10
    inbox_count_seconds: float = 10.0
    """How long an inbox's counts are shared by the officers of a process (0: count each page)."""
    inbox_page_seconds: float = 2.0
    """How long an inbox page's listing is shared by the officers of a process (0: list each
    time); an officer's own actions show at once regardless (docs/web.md)."""
    temporal_address: str | None = None
    scans: str = "local"
    """Where scans go (`MOTCUA_SCANS`): `local`, under the data folder, or `s3://BUCKET[/PREFIX]`."""
    scans_sse: str = ""
    """Server-side encryption asked of S3: `AES256` or `aws:kms` (`MOTCUA_SCANS_SSE`)."""
    scans_kms_key_id: str = ""
    """With `aws:kms`, the key (`MOTCUA_SCANS_KMS_KEY_ID`); empty: the account's default."""
    unattached_scan_hours: float = 24.0
    """Scans no dossier names are deleted this long after they were last stored."""
    sweep_every_seconds: float = 3600.0
    """How often the app sweeps them (0: never; `motcua sweep-scans` from cron instead)."""
    metrics_token: str = ""
    """The bearer token `/metrics` asks for (`MOTCUA_METRICS_TOKEN`); empty: loopback only."""


class ScanSettings(TypedDict):
    scans: str
    scans_sse: str
    scans_kms_key_id: str


def scans_from_env() -> ScanSettings:
    """The scan storage settings from `MOTCUA_SCANS`, `MOTCUA_SCANS_SSE`, `..._KMS_KEY_ID`."""
    return {
        "scans": os.environ.get(SCANS_ENV, "").strip()[:300] or "local",
        "scans_sse": os.environ.get(f"{SCANS_ENV}_SSE", "").strip()[:20],
        "scans_kms_key_id": os.environ.get(f"{SCANS_ENV}_KMS_KEY_ID", "").strip()[:300],
    }


def load_secret(data_dir: Path) -> str:
    """The cookie-signing secret: `MOTCUA_WEB_SECRET`, else one kept in the data folder.

    A kept secret (0600) lets several processes on one data folder share sessions; a deployment
    without a shared folder sets the variable, identical in every process.
    """
    given = os.environ.get(SECRET_ENV, "").strip()
    if given:
        if len(given) < 32:
            raise UserError(f"{SECRET_ENV} must be at least 32 characters", exit_code=2)
        return given
    path = data_dir / "web-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secret)
    return secret


def metrics_token(token_file: Path | None = None) -> str:
    """The token `/metrics` asks for: the file's first line (`--metrics-token-file`), else
    `MOTCUA_METRICS_TOKEN`, else none (loopback clients only)."""
    where = f"--metrics-token-file {token_file}" if token_file else METRICS_TOKEN_ENV
    if token_file is not None:
        try:
            with open(token_file, "rb") as fh:
                raw = fh.read(MAX_TOKEN + 1)
        except OSError as err:
            raise UserError(f"{where}: {err.strerror}", exit_code=2) from None
        lines = raw.decode(errors="replace").splitlines()
        token = lines[0].strip() if lines else ""
    else:
        token = os.environ.get(METRICS_TOKEN_ENV, "").strip()
        if not token:
            return ""
    if not MIN_TOKEN <= len(token) < MAX_TOKEN or not token.isprintable() or " " in token:
        raise UserError(
            f"{where}: the metrics token must be {MIN_TOKEN} to {MAX_TOKEN - 1} printable "
            "characters without spaces",
            exit_code=2,
        )
    return token
