"""Keys that protect personal data at rest: master keys, and one data key per dossier.

Envelope encryption: every dossier family (a dossier and its sub-dossiers) has its own random
AES-256 data key, stored only *wrapped* (encrypted) by a master key, outside Temporal. The
payload codec (runtime/codec.py) encrypts the dossier's payloads with that data key, so
destroying the wrapped key (`KeySource.erase`) makes exactly that dossier's personal payloads
unreadable, everywhere they were copied (history, database, WAL, backups), while other dossiers
stay readable. Payloads that belong to no dossier (agency counters, calendar broadcasts) are
encrypted with the current master key directly.

Master keys rotate: the keyring names a `current` key (used for new payloads and new data keys)
and keeps older ones for reading. On the embedded default the keyring is a file generated on
first run under the data folder (`keys/keyring.json`, 0600, folder 0700) and data keys are
files beside it (`keys/dossiers/`); a deployment keeps master keys in its KMS instead and
points `MOTCUA_KEYS=module:function` at a function returning a `KeySource`.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from activities.private import open_private, private_dir, write_private
from runtime.errors import UserError

HOOK_ENV = "MOTCUA_KEYS"
"""`module:function` returning a `KeySource` (a deployment's KMS); unset: the local files."""
KEYRING_FILE = Path("keys") / "keyring.json"
DOSSIER_KEYS_DIR = Path("keys") / "dossiers"
NONCE_BYTES = 12
KEY_BYTES = 32
MAX_KEY_FILE = 1 << 20
"""A keyring or data-key file larger than this is not one (every input has a size limit)."""
DOSSIER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_]{0,127}")


class KeysUnavailable(UserError):
    """A key needed to read or write personal data is missing, unreadable or malformed."""


class DossierErased(KeysUnavailable):
    """The dossier's data key was destroyed: its personal payloads can no longer be read."""

    def __init__(self, dossier: str, erased_at: str) -> None:
        super().__init__(f"dossier {dossier}: personal data erased at {erased_at} (key destroyed)")
        self.dossier, self.erased_at = dossier, erased_at


class MasterKeys(Protocol):
    """Master keys by id; a KMS-backed implementation never needs to reveal them."""

    @property
    def current(self) -> str:
        """The id of the key new payloads and new data keys use."""
        ...

    def encrypt(self, key_id: str, plaintext: bytes, aad: bytes) -> bytes:
        """Seal `plaintext` with key `key_id`, bound to `aad`."""
        ...

    def decrypt(self, key_id: str, blob: bytes, aad: bytes) -> bytes:
        """Open what `encrypt` sealed; raises `KeysUnavailable` for an unknown key or a forgery."""
        ...


class DossierKeyStore(Protocol):
    """Where wrapped data keys live (shared by every client and worker of a deployment)."""

    def load(self, dossier: str) -> dict[str, Any] | None:
        """The dossier's record (`kek` + `wrapped`, or `erased_at`), None if it has none."""
        ...

    def create(self, dossier: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store `record` unless one exists; return the record that is stored (first wins)."""
        ...

    def replace(self, dossier: str, record: dict[str, Any]) -> None:
        """Overwrite the dossier's record (rewrap under a new master key, or erase)."""
        ...

    def dossiers(self) -> list[str]:
        """Every dossier with a record."""
        ...


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a fresh random nonce, returned as nonce + ciphertext + tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Open what `seal` produced; a wrong key, altered bytes or altered `aad` all refuse."""
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise KeysUnavailable("payload does not authenticate (wrong key or altered)") from None


def _new_key_id() -> str:
    return datetime.now(UTC).strftime("k%Y%m%d-") + os.urandom(3).hex()


def _read_json(path: Path) -> Any:
    if path.stat().st_size > MAX_KEY_FILE:
        raise KeysUnavailable(f"{path}: larger than {MAX_KEY_FILE} bytes, not a key file")
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise KeysUnavailable(f"{path}: not JSON ({err})") from None


@dataclass
class Keyring:
    """Master keys in a local file: the embedded default, and tests. 0600, folder 0700."""

    path: Path
    keys: dict[str, bytes]
    current_id: str

    @property
    def current(self) -> str:
        return self.current_id

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """Read the keyring, or make one with a single fresh key (the first run)."""
        if not path.exists():
            key_id = _new_key_id()
            ring = cls(path, {key_id: AESGCM.generate_key(bit_length=256)}, key_id)
            try:
                fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                return cls.load(path)  # another process made it first: use theirs
            with os.fdopen(fd, "wb") as fh:
                fh.write(ring._dump())
            return ring
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Read an existing keyring; a malformed one is a located one-line error."""
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # written by hand or an older version: tighten, do not fail
        raw = _read_json(path)
        try:
            keys = {
                kid: base64.b64decode(k["key"], validate=True) for kid, k in raw["keys"].items()
            }
            current = str(raw["current"])
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise KeysUnavailable(f"{path}: malformed keyring ({err!r})") from None
        if current not in keys or any(len(k) != KEY_BYTES for k in keys.values()):
            raise KeysUnavailable(f"{path}: current key missing or a key is not 256 bits")
        return cls(path, keys, current)

    def _dump(self) -> bytes:
        keys = {kid: {"key": base64.b64encode(k).decode()} for kid, k in self.keys.items()}
        return (json.dumps({"current": self.current_id, "keys": keys}, indent=2) + "\n").encode()

    def save(self) -> None:
        write_private(self.path, self._dump())

    def add(self) -> str:
        """Rotation, phase 1: a new key every reader learns; writers keep the current one."""
        key_id = _new_key_id()
        self.keys[key_id] = AESGCM.generate_key(bit_length=256)
        self.save()
        return key_id

    def use(self, key_id: str) -> None:
        """Rotation, phase 2 (once every reader has the key): new payloads use `key_id`."""
        if key_id not in self.keys:
            raise KeysUnavailable(f"{self.path}: no key {key_id!r}")
        self.current_id = key_id
        self.save()

    def retire(self, key_id: str) -> None:
        """Forget a key; only once no history, data key or backup it protects remains."""
        if key_id == self.current_id:
            raise KeysUnavailable(f"{key_id} is the current key; `use` another one first")
        if self.keys.pop(key_id, None) is None:
            raise KeysUnavailable(f"{self.path}: no key {key_id!r}")
        self.save()

    def encrypt(self, key_id: str, plaintext: bytes, aad: bytes) -> bytes:
        return seal(self._key(key_id), plaintext, aad)

    def decrypt(self, key_id: str, blob: bytes, aad: bytes) -> bytes:
        return unseal(self._key(key_id), blob, aad)

    def _key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise KeysUnavailable(f"master key {key_id!r} is not in the keyring") from None


@dataclass
class DossierKeyFiles:
    """Wrapped data keys as one small file per dossier family (0600, folder 0700)."""

    folder: Path

    def _path(self, dossier: str) -> Path:
        if not DOSSIER_RE.fullmatch(dossier) or ".." in dossier:
            raise KeysUnavailable(f"not a dossier code: {dossier[:140]!r}")
        return self.folder / f"{dossier}.json"

    def load(self, dossier: str) -> dict[str, Any] | None:
        path = self._path(dossier)
        if not path.exists():
            return None
        record = _read_json(path)
        if not isinstance(record, dict):
            raise KeysUnavailable(f"{path}: not a data-key record")
        return record

    def create(self, dossier: str, record: dict[str, Any]) -> dict[str, Any]:
        """Written whole to a temporary file, then linked into place: `link` fails if another
        process made the record first, and no reader ever sees half of one."""
        path = self._path(dossier)
        tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        write_private(tmp, json.dumps(record).encode())
        try:
            os.link(tmp, path)
        except FileExistsError:
            existing = self.load(dossier)
            assert existing is not None
            return existing
        finally:
            tmp.unlink()
        return record

    def replace(self, dossier: str, record: dict[str, Any]) -> None:
        write_private(self._path(dossier), json.dumps(record).encode())

    def dossiers(self) -> list[str]:
        if not self.folder.exists():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json"))


@dataclass
class KeySource:
    """Master keys plus the dossiers' wrapped data keys: everything the codec needs."""

    master: MasterKeys
    store: DossierKeyStore
    _cache: dict[tuple[str, str], bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def data_key(self, dossier: str, *, create: bool) -> bytes:
        """The dossier family's data key, made (wrapped by the current master key) if absent.

        The record is read every time (a few microseconds) so an erasure by another process
        takes effect at once; only the unwrapping is cached."""
        record = self.store.load(dossier)
        if record is None:
            if not create:
                raise KeysUnavailable(
                    f"dossier {dossier}: no data key in these keys (another data folder?)"
                )
            kek = self.master.current
            wrapped = self.master.encrypt(kek, AESGCM.generate_key(bit_length=256), _aad(dossier))
            record = self.store.create(
                dossier, {"kek": kek, "wrapped": base64.b64encode(wrapped).decode()}
            )
        if "erased_at" in record:
            raise DossierErased(dossier, str(record["erased_at"]))
        try:
            kek, wrapped_text = str(record["kek"]), str(record["wrapped"])
        except KeyError:
            raise KeysUnavailable(f"dossier {dossier}: malformed data-key record") from None
        cache_key = (dossier, wrapped_text)
        with self._lock:
            key = self._cache.get(cache_key)
        if key is None:
            key = self.master.decrypt(kek, base64.b64decode(wrapped_text), _aad(dossier))
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[cache_key] = key
        return key

    def erase(self, dossier: str, at: datetime) -> bool:
        """Destroy the dossier's data key, leaving a tombstone saying when; False if none."""
        record = self.store.load(dossier)
        if record is None or "erased_at" in record:
            return False
        self.store.replace(dossier, {"erased_at": at.astimezone(UTC).isoformat()})
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != dossier}
        return True

    def rewrap(self) -> int:
        """Wrap every data key under the current master key, so old master keys can retire
        without re-encrypting any history; returns how many records changed."""
        changed = 0
        current = self.master.current
        for dossier in self.store.dossiers():
            record = self.store.load(dossier)
            if not record or "erased_at" in record or record.get("kek") == current:
                continue
            key = self.data_key(dossier, create=False)
            wrapped = self.master.encrypt(current, key, _aad(dossier))
            self.store.replace(
                dossier, {"kek": current, "wrapped": base64.b64encode(wrapped).decode()}
            )
            changed += 1
        return changed


def _aad(dossier: str) -> bytes:
    """Binds a wrapped key to its dossier: a key file copied to another name does not open."""
    return f"motcua-data-key:{dossier}".encode()


def local_keys(data_dir: Path) -> KeySource:
    """The embedded default: keyring and data keys under the data folder, made on first use."""
    private_dir(data_dir)
    ring = Keyring.load_or_create(data_dir / KEYRING_FILE)
    return KeySource(ring, DossierKeyFiles(private_dir(data_dir / DOSSIER_KEYS_DIR)))


def load_keys(data_dir: Path) -> KeySource:
    """The deployment's `KeySource` from `MOTCUA_KEYS=module:function`, else `local_keys`."""
    spec = os.environ.get(HOOK_ENV, "").strip()
    if not spec:
        return local_keys(data_dir)
    module_name, sep, name = spec.partition(":")
    if not (sep and module_name and name):
        raise KeysUnavailable(f"{HOOK_ENV} must be module:function, got {spec!r}")
    try:
        hook = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise KeysUnavailable(f"{HOOK_ENV}={spec}: {err}") from None
    source = hook()
    if not isinstance(source, KeySource):
        raise KeysUnavailable(f"{HOOK_ENV}={spec} returned {type(source).__name__}, not KeySource")
    return source
