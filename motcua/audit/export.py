"""A verifiable export of one dossier: raw histories, the trail, and SHA-256 digests of all.

`MANIFEST.json` lists every file with its digest and size; `MANIFEST.sha256` holds the digest
of the manifest's canonical JSON (sorted keys, no spaces), so a manifest edited to match an
altered file is caught too. Keep `MANIFEST.sha256` somewhere else as well (a register, a
signed e-mail) for the export to prove anything against someone able to rewrite both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory

from motcua.audit.render import render
from motcua.audit.trail import build_trail

MANIFEST = "MANIFEST.json"
MANIFEST_DIGEST = "MANIFEST.sha256"


@dataclass
class Verification:
    """What `verify` found: files changed, gone or added since the export."""

    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not (self.altered or self.missing or self.extra)

    def lines(self) -> list[str]:
        """The report, one line per finding, and a verdict."""
        out = [f"ALTERED {name}" for name in self.altered]
        out += [f"MISSING {name}" for name in self.missing]
        out += [f"EXTRA   {name}" for name in self.extra]
        verdict = "verified" if self.ok else "NOT verified"
        out.append(f"{verdict}: {self.checked} files checked")
        return out


def export(runs: list[WorkflowHistory], out: Path) -> list[Path]:
    """Write histories, the trail (md and json) and the manifest to `out`; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    trail = build_trail(runs)
    files: dict[str, bytes] = {}
    histories = []
    for n, history in enumerate(runs, start=1):
        name = f"history-{n}.json"
        files[name] = history.to_json().encode()
        histories.append({"file": name, "run_id": history.run_id})
    files["trail.md"] = render(trail, "md").encode()
    files["trail.json"] = render(trail, "json").encode()
    for name, data in files.items():
        (out / name).write_bytes(data)
    manifest = {
        "dossier": trail.code,
        "workflow_id": runs[0].workflow_id,
        "procedure": trail.procedure_code,
        "content_hash": trail.content_hash,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "histories": histories,
        "files": {
            name: {"sha256": _digest(data), "bytes": len(data)} for name, data in files.items()
        },
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (out / MANIFEST_DIGEST).write_text(f"{_digest(canonical(manifest))}  {MANIFEST}\n")
    return [out / name for name in (*files, MANIFEST, MANIFEST_DIGEST)]


def verify(folder: Path) -> Verification:
    """Recompute every digest of an export; report what differs."""
    result = Verification()
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        recorded = (folder / MANIFEST_DIGEST).read_text(encoding="utf-8").split()[0]
    except (OSError, ValueError, IndexError):
        result.missing += [n for n in (MANIFEST, MANIFEST_DIGEST) if not (folder / n).is_file()]
        if not result.missing:
            result.altered.append(MANIFEST)
        return result
    result.checked = 1
    if not isinstance(manifest, dict) or _digest(canonical(manifest)) != recorded:
        result.altered.append(MANIFEST)
        return result
    listed: dict[str, Any] = manifest.get("files", {})
    for name, expected in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            result.missing.append(name)
            continue
        result.checked += 1
        if _digest(path.read_bytes()) != expected.get("sha256"):
            result.altered.append(name)
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    result.extra = sorted(present - set(listed) - {MANIFEST, MANIFEST_DIGEST})
    return result


def canonical(manifest: dict[str, Any]) -> bytes:
    """The manifest's canonical bytes: sorted keys, no insignificant spaces, UTF-8."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
