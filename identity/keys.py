"""Ed25519 key files: a private key (PEM, 0600) per signer, a public keyset (JWKS) per verifier.

A signer is the front door that issues officer assertions, or a catalogue publisher. Its
private key stays in one file, readable only by its owner; verifiers (workers) are configured
with a JWKS file (RFC 7517) of public keys. Rotating a key writes a new private key and adds
its public key to the keyset, keeping the old ones so that what they signed still verifies
until it is removed from the keyset.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from identity.assertions import Keyset

MAX_KEYSET_BYTES = 256 * 1024
"""A keyset file larger than this is refused (a JWKS of 1,000 Ed25519 keys is ~130 kB)."""
MAX_KEY_BYTES = 4096


class KeyFileError(Exception):
    """A key or keyset file that cannot be used, with its path, in one line."""


@dataclass(frozen=True)
class SigningKey:
    """A private key and the id (`kid`) verifiers know its public key by."""

    kid: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """The JWK thumbprint (RFC 7638) of a public key: the same key always has the same id."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64(_raw(public))},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64(hashlib.sha256(canonical.encode()).digest())


def generate() -> SigningKey:
    """A fresh key pair."""
    private = Ed25519PrivateKey.generate()
    return SigningKey(key_id(private.public_key()), private)


def write_private(path: Path, key: SigningKey) -> None:
    """Write the private key as PKCS#8 PEM, created 0600 in a 0700 folder, atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private_file(path, pem)


def write_private_file(path: Path, data: bytes) -> None:
    """Bytes to `path` through a 0600 temporary file renamed over it (never world-readable)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def read_private(path: Path) -> SigningKey:
    """The signing key in `path`; refused if others may read it or it is not Ed25519."""
    try:
        if path.stat().st_mode & 0o077:
            raise KeyFileError(f"{path}: readable by others; chmod 600 it")
        if path.stat().st_size > MAX_KEY_BYTES:
            raise KeyFileError(f"{path}: larger than {MAX_KEY_BYTES} bytes, not a key")
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as err:
        raise KeyFileError(f"{path}: {err.strerror}") from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise KeyFileError(f"{path}: not a PEM private key ({err})") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return SigningKey(key_id(loaded.public_key()), loaded)


def read_keyset(path: Path) -> dict[str, Ed25519PublicKey]:
    """The public keys of a JWKS file by key id; any unusable entry refuses the whole file."""
    try:
        if path.stat().st_size > MAX_KEYSET_BYTES:
            raise KeyFileError(f"{path}: larger than {MAX_KEYSET_BYTES} bytes")
        document = json.loads(path.read_bytes())
    except OSError as err:
        raise KeyFileError(f"{path}: {err.strerror}") from None
    except ValueError as err:
        raise KeyFileError(f"{path}: not JSON ({err})") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeyFileError(f'{path}: expected a JWKS, {{"keys": [...]}}')
    keys: dict[str, Ed25519PublicKey] = {}
    for number, entry in enumerate(entries, start=1):
        public = _public_of(entry)
        if public is None:
            raise KeyFileError(f"{path}: key {number} is not an Ed25519 public JWK")
        kid = key_id(public)
        if entry.get("kid", kid) != kid:
            raise KeyFileError(f"{path}: key {number} has kid {entry['kid']!r}, not {kid!r}")
        keys[kid] = public
    return keys


def _public_of(entry: object) -> Ed25519PublicKey | None:
    if not isinstance(entry, dict) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
        return None
    x = entry.get("x")
    if not isinstance(x, str) or len(x) != 43:
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "="))
    except ValueError:
        return None


def write_keyset(path: Path, keys: Keyset) -> None:
    """A JWKS file of `keys`, written atomically; 0600 like every file motcua writes (it holds
    no secret: copy it to the workers that verify)."""
    document = {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": _b64(_raw(public)), "kid": kid, "use": "sig"}
            for kid, public in keys.items()
        ]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(path, (json.dumps(document, indent=2) + "\n").encode())


@dataclass(frozen=True)
class Signer:
    """Where one signer's files live: `<folder>/<name>-key.pem` and `<name>-keys.json`."""

    folder: Path
    name: str

    @property
    def private_path(self) -> Path:
        return self.folder / f"{self.name}-key.pem"

    @property
    def keyset_path(self) -> Path:
        return self.folder / f"{self.name}-keys.json"

    def key(self) -> SigningKey:
        """The current signing key, created (with its keyset) on first use."""
        if self.private_path.exists():
            return read_private(self.private_path)
        return self.rotate()

    def keyset(self) -> dict[str, Ed25519PublicKey]:
        """The public keys verifiers of this signer are configured with."""
        return read_keyset(self.keyset_path) if self.keyset_path.exists() else {}

    def rotate(self) -> SigningKey:
        """A new signing key; its public key joins the keyset, old ones stay."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = generate()
        keys = {**self.keyset(), key.kid: key.public}
        write_keyset(self.keyset_path, keys)
        write_private(self.private_path, key)
        return key
