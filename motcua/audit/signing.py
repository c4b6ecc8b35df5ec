"""The auditing service's Ed25519 key pair: it signs export manifests, auditors hold its public key.

A SHA-256 manifest alone proves nothing against someone who can rewrite it: an insider who
edits a file recomputes the digests. A signature does, as long as the private key stays with
the auditing service. On the embedded default the pair is made on first use under
`<data>/keys/` (private key 0600 in a 0700 folder); `motcua audit key` prints the public key
to hand to whoever must verify exports, and `motcua audit verify --key` checks against it.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from activities.keyfiles import KeyFileError, create_once, read_limited

MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
"""An export's manifest and the signature of its exact bytes."""

KEY_FOLDER = "keys"
PRIVATE_KEY = "audit-ed25519.pem"
PUBLIC_KEY = "audit-ed25519.pub.pem"
ALGORITHM = "Ed25519"


class TrustedKeyError(Exception):
    """A public key file that cannot be read as an Ed25519 public key."""


def _make() -> dict[str, tuple[bytes, int]]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {PRIVATE_KEY: (private, 0o600), PUBLIC_KEY: (public_pem(key.public_key()), 0o644)}


def private_key(data_dir: Path) -> Ed25519PrivateKey:
    """The auditing service's signing key, made on first use."""
    folder = data_dir / KEY_FOLDER
    create_once(folder, _make, PRIVATE_KEY)
    key = serialization.load_pem_private_key(read_limited(folder / PRIVATE_KEY), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{folder / PRIVATE_KEY}: not an Ed25519 private key")
    return key


def public_key_path(data_dir: Path) -> Path:
    """Where this data folder keeps the public half (present once a key was made)."""
    return data_dir / KEY_FOLDER / PUBLIC_KEY


def public_pem(key: Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo), the form auditors are given."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public(path: Path) -> Ed25519PublicKey:
    """Read a trusted public key (PEM); a file that is not one raises `TrustedKeyError`."""
    try:
        key = serialization.load_pem_public_key(read_limited(path))
    except (OSError, KeyFileError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) else str(err)
        raise TrustedKeyError(f"{path}: not a readable PEM public key ({reason})") from err
    if not isinstance(key, Ed25519PublicKey):
        raise TrustedKeyError(f"{path}: not an Ed25519 public key")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint naming the key in signatures and reports (SHA-256 of its raw bytes)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, data: bytes) -> dict[str, str]:
    """The signature record written beside the manifest."""
    return {
        "algorithm": ALGORITHM,
        "key": key_id(key.public_key()),
        "signature": base64.b64encode(key.sign(data)).decode(),
    }


def verify(key: Ed25519PublicKey, data: bytes, record: object) -> str | None:
    """None when `record` is a valid signature of `data` by `key`; otherwise why not."""
    if not isinstance(record, dict) or record.get("algorithm") != ALGORITHM:
        return f"not an {ALGORITHM} signature record"
    try:
        signature = base64.b64decode(str(record.get("signature", "")), validate=True)
        key.verify(signature, data)
    except (ValueError, InvalidSignature):
        return (
            f"not signed by the trusted key {key_id(key)}"
            f" (the signature names key {str(record.get('key'))[:16]})"
        )
    return None
