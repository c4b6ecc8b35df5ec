"""The payload codec: every payload motcua hands Temporal is AES-256-GCM encrypted.

Temporal stores payloads as given (history, SQLite file and its WAL, visibility, backups), so
a citizen's name and id number would sit there in base64. The codec encrypts the serialized
payload and records in its metadata which key did it (`encryption-key-id`):

- `dossier:<code>`: the payload belongs to a dossier family (the workflow id in the SDK's
  serialization context), encrypted with that family's data key (runtime/keyring.py). A
  sub-dossier `PARENT.step` shares its parent's key: it carries a copy of the parent's
  applicant, the family has one retention period, and erasing the dossier must erase the copy
  too, in one act.
- `master:<id>`: payloads of no dossier (agency counters, calendar broadcasts, a call without
  context), encrypted with the current master key.

Decoding needs no context (the metadata says which key) and passes unencrypted payloads through,
so histories recorded before encryption still decode and replay. The additional data bound to
each ciphertext is its key id: a payload moved to another dossier's history does not open.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, Self

from google.protobuf.message import DecodeError, Message
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)

from runtime.keyring import DOSSIER_RE, KeySource, KeysUnavailable, seal, unseal

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
DOSSIER_PREFIX = "dossier:"
MASTER_PREFIX = "master:"
NOT_DOSSIERS = ("counter-",)
"""Workflow ids that are not dossiers (the agency counters)."""
MAX_PAYLOAD = 4 << 20
"""Bytes; larger than Temporal's own blob limit (2 MB), so only garbage is refused here."""


def dossier_family(workflow_id: str | None) -> str | None:
    """The dossier family (root code) a workflow id belongs to, None for non-dossiers.

    Codes are `<agency>-<YYMMDD>-<NNNN>` (the agency code has dots, never dashes) and a
    sub-dossier appends `.step` or `.step.visit`: the root ends at the first dot after the
    agency."""
    if not workflow_id or workflow_id.startswith(NOT_DOSSIERS):
        return None
    agency, dash, rest = workflow_id.partition("-")
    if not dash:
        return None
    root = f"{agency}-{rest.split('.', 1)[0]}"
    return root if DOSSIER_RE.fullmatch(root) else None


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM per payload; the SDK hands it the workflow id through `with_context`."""

    def __init__(self, keys: KeySource, family: str | None = None) -> None:
        self.keys = keys
        self.family = family

    def with_context(self, context: SerializationContext) -> Self:
        family = dossier_family(getattr(context, "workflow_id", None))
        if family == self.family:
            return self
        return type(self)(self.keys, family)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        """One payload sealed with the family's data key, or the current master key."""
        plain = payload.SerializeToString()
        if self.family:
            key_id = DOSSIER_PREFIX + self.family
            data = seal(self.keys.data_key(self.family, create=True), plain, key_id.encode())
        else:
            master = self.keys.master.current
            key_id = MASTER_PREFIX + master
            data = self.keys.master.encrypt(master, plain, key_id.encode())
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=data)

    def decrypt(self, payload: Payload) -> Payload:
        """The original payload; unencrypted ones pass through unchanged."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        if len(payload.data) > MAX_PAYLOAD:
            raise KeysUnavailable(f"encrypted payload over {MAX_PAYLOAD} bytes")
        if key_id.startswith(DOSSIER_PREFIX):
            key = self.keys.data_key(key_id.removeprefix(DOSSIER_PREFIX), create=False)
            plain = unseal(key, payload.data, key_id.encode())
        elif key_id.startswith(MASTER_PREFIX):
            plain = self.keys.master.decrypt(
                key_id.removeprefix(MASTER_PREFIX), payload.data, key_id.encode()
            )
        else:
            raise KeysUnavailable(f"encrypted payload with unknown key id {key_id[:80]!r}")
        try:
            return Payload.FromString(plain)
        except DecodeError:
            raise KeysUnavailable(
                f"payload under {key_id} is not a payload once decrypted"
            ) from None


def key_id_of(payload: Payload) -> str | None:
    """Which key encrypted `payload` (for logs and tests), None if it is not encrypted."""
    if payload.metadata.get("encoding") != ENCODING:
        return None
    return payload.metadata.get(KEY_ID, b"").decode(errors="replace")


def encrypted_converter(keys: KeySource) -> DataConverter:
    """`pydantic_data_converter` with the encryption codec: what every client and worker uses."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))


async def decode_messages(messages: Iterable[Message], codec: PayloadCodec) -> None:
    """Decode, in place, every payload anywhere inside proto messages (a history's events).

    The audit tools read payloads out of histories directly; this gives them the plain ones.
    Search attributes are never encrypted and pass through untouched."""
    found: list[Payload] = []
    for message in messages:
        _collect(message, found)
    if found:
        for payload, plain in zip(found, await codec.decode(found), strict=True):
            if plain is not payload:
                payload.CopyFrom(plain)


def _collect(message: Message, found: list[Payload]) -> None:
    if isinstance(message, Payload):
        found.append(message)
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        items: Any
        if descriptor.message_type.GetOptions().map_entry:
            items = value.values()
            if descriptor.message_type.fields_by_name["value"].message_type is None:
                continue
        elif descriptor.is_repeated:
            items = value
        else:
            items = (value,)
        for item in items:
            _collect(item, found)
