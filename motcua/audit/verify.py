"""Checking a signed export: the signature first, then every file the signed manifest names.

The manifest is trusted only once its signature verifies against a public key the auditor
holds; then its names are checked before any file is opened: a name must stay inside the
export folder (no absolute path, no `..`, no symbolic link on the way), and a manifest naming
no file proves nothing, so it is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from activities.keyfiles import KeyFileError, read_limited
from motcua.audit import signing
from motcua.audit.signing import MANIFEST, SIGNATURE

MAX_MANIFEST = 1024 * 1024
"""A manifest lists a handful of files; one of a megabyte is not ours."""
MAX_SIGNATURE = 4096
MAX_FILES = 10_000


@dataclass
class Verification:
    """What `verify` found: why the export is refused, or the files changed, gone or added."""

    refused: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    checked: int = 0
    signer: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.refused or self.altered or self.missing or self.extra)

    def lines(self) -> list[str]:
        """The report, one line per finding, and a verdict."""
        out = [f"REFUSED {reason}" for reason in self.refused]
        out += [f"ALTERED {name}" for name in self.altered]
        out += [f"MISSING {name}" for name in self.missing]
        out += [f"EXTRA   {name}" for name in self.extra]
        if self.ok:
            out.append(f"verified: {self.checked} files checked, signed by key {self.signer}")
        else:
            out.append(f"NOT verified: {self.checked} files checked")
        return out


def verify(folder: Path, key: Ed25519PublicKey) -> Verification:
    """Check the manifest's signature with `key`, then every file it lists."""
    result = Verification()
    sealed = _read_seal(folder, result)
    if sealed is None:
        return result
    body, record = sealed
    problem = signing.verify(key, body, record)
    if problem is not None:
        result.refused.append(f"{MANIFEST}: {problem}")
        return result
    result.signer = signing.key_id(key)
    result.checked = 1
    try:
        manifest = json.loads(body)
    except ValueError:
        result.refused.append(f"{MANIFEST}: not JSON")
        return result
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict) or not listed:
        result.refused.append(f"{MANIFEST}: lists no file, so it proves nothing")
        return result
    if len(listed) > MAX_FILES:
        result.refused.append(f"{MANIFEST}: lists more than {MAX_FILES} files")
        return result
    base = folder.resolve()
    for name in sorted(listed):
        reason = _unsafe(base, name)
        if reason:
            result.refused.append(f"{name!r}: {reason}")
    if result.refused:
        return result
    for name, expected in sorted(listed.items()):
        path = base / name
        if not path.is_file():
            result.missing.append(name)
            continue
        result.checked += 1
        if not isinstance(expected, dict) or _file_digest(path) != expected.get("sha256"):
            result.altered.append(name)
    result.extra = sorted(_present(base) - set(listed) - {MANIFEST, SIGNATURE})
    return result


def _read_seal(folder: Path, result: Verification) -> tuple[bytes, Any] | None:
    """The manifest's bytes and the signature record, or None with the reason recorded."""
    parts: list[bytes] = []
    for name, limit in ((MANIFEST, MAX_MANIFEST), (SIGNATURE, MAX_SIGNATURE)):
        path = folder / name
        if path.is_symlink():
            result.refused.append(f"{name}: a symbolic link, not a file of the export")
        elif not path.is_file():
            result.missing.append(name)
        else:
            try:
                parts.append(read_limited(path, limit))
            except (OSError, KeyFileError) as err:
                result.refused.append(f"{name}: {getattr(err, 'strerror', None) or err}")
    if len(parts) != 2:
        return None
    try:
        record = json.loads(parts[1])
    except ValueError:
        result.refused.append(f"{SIGNATURE}: not JSON")
        return None
    return parts[0], record


def _unsafe(base: Path, name: object) -> str | None:
    """Why a manifest name must not be opened, or None if it names a file inside `base`."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return "not a plain relative file name"
    pure = PurePosixPath(name)
    if pure.is_absolute():
        return "an absolute path, outside the export folder"
    if any(part in ("..", ".", "") for part in name.split("/")):
        return "leads outside the export folder (`..`) or is not a plain relative name"
    step = base
    for part in pure.parts:
        step = step / part
        if step.is_symlink():
            return "a symbolic link: it could point outside the export folder"
    if not step.resolve().is_relative_to(base):
        return "resolves outside the export folder"
    return None


def _present(base: Path) -> set[str]:
    """Every file and symbolic link under `base`, as manifest names; links are not followed."""
    found: set[str] = set()
    for root, dirs, files in os.walk(base, followlinks=False):
        rel = Path(root).relative_to(base)
        for name in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
            found.add((rel / name).as_posix())
    return found


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
