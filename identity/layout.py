"""Where the embedded default keeps identity files in its data folder.

`<data>/identity/` (0700) holds the officers' signing key and public keyset, the publisher's
key and keyset, and the officer directory; the signed manifest is `<data>/published.json`.
A deployment points workers at its own keyset and manifest files instead.
"""

from __future__ import annotations

from pathlib import Path

from identity.keys import Signer

FOLDER = "identity"
MANIFEST = "published.json"


def officers_signer(data: Path) -> Signer:
    """The front door's key: `officers-key.pem` signs assertions, `officers-keys.json` verifies."""
    return Signer(data / FOLDER, "officers")


def publisher_signer(data: Path) -> Signer:
    """The publisher's key: `publisher-key.pem` signs manifests, `publisher-keys.json` verifies."""
    return Signer(data / FOLDER, "publisher")


def manifest_path(data: Path) -> Path:
    return data / MANIFEST
