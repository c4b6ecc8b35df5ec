"""The payload codec and its keys: encryption, rotation, per-dossier keys, erasure, file modes."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext
from temporalio.testing import WorkflowEnvironment

from runtime.codec import (
    EncryptionCodec,
    decode_messages,
    dossier_family,
    encrypted_converter,
    key_id_of,
)
from runtime.keyring import (
    KEYRING_FILE,
    DossierErased,
    Keyring,
    KeySource,
    KeysUnavailable,
    load_keys,
    local_keys,
)
from workflows.api import Applicant

ID_NUMBER = "079300004242"
APPLICANT = Applicant(full_name="Lê Thị Bình", id_number=ID_NUMBER, phone="0912345678")
ROOT = "000.00.19.H26-261130-0007"


def context(workflow_id: str | None) -> WorkflowSerializationContext:
    return WorkflowSerializationContext(namespace="default", workflow_id=workflow_id or "")


def plain(value: object) -> Payload:
    [payload] = pydantic_data_converter.payload_converter.to_payloads([value])
    return payload


async def test_a_dossier_payload_is_encrypted_with_its_key_and_decodes(data_dir: Path) -> None:
    codec = EncryptionCodec(local_keys(data_dir)).with_context(context(ROOT))
    [sealed] = await codec.encode([plain(APPLICANT)])
    assert key_id_of(sealed) == f"dossier:{ROOT}"
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert ID_NUMBER.encode() not in sealed.SerializeToString()
    assert "Bình".encode() not in sealed.SerializeToString()
    [opened] = await EncryptionCodec(local_keys(data_dir)).decode([sealed])  # no context needed
    assert opened == plain(APPLICANT)


def test_sub_dossiers_share_their_root_dossier_key() -> None:
    assert dossier_family(ROOT) == ROOT
    assert dossier_family(f"{ROOT}.police_check") == ROOT
    assert dossier_family(f"{ROOT}.police_check.2") == ROOT
    assert dossier_family("counter-000.00.19.H26") is None
    assert dossier_family(None) is None and dossier_family("") is None


async def test_an_activity_payload_takes_its_workflows_dossier_key(data_dir: Path) -> None:
    activity = ActivitySerializationContext(
        namespace="default",
        activity_id="1",
        activity_type="render_form",
        activity_task_queue="q",
        workflow_id=f"{ROOT}.step",
        workflow_type="DossierWorkflow",
        is_local=False,
    )
    codec = EncryptionCodec(local_keys(data_dir)).with_context(activity)
    [sealed] = await codec.encode([plain(APPLICANT)])
    assert key_id_of(sealed) == f"dossier:{ROOT}"


async def test_payloads_of_no_dossier_use_the_current_master_key(data_dir: Path) -> None:
    keys = local_keys(data_dir)
    codec = EncryptionCodec(keys).with_context(context("counter-000.00.19.H26"))
    [sealed] = await codec.encode([plain({"request_id": "r1"})])
    assert key_id_of(sealed) == f"master:{keys.master.current}"
    assert await EncryptionCodec(keys).decode([sealed]) == [plain({"request_id": "r1"})]


async def test_unencrypted_payloads_pass_through_so_old_histories_decode(data_dir: Path) -> None:
    old = plain(APPLICANT)
    assert await EncryptionCodec(local_keys(data_dir)).decode([old]) == [old]


async def test_a_payload_moved_to_another_dossier_or_altered_does_not_open(data_dir: Path) -> None:
    keys = local_keys(data_dir)
    [sealed] = await EncryptionCodec(keys, ROOT).encode([plain(APPLICANT)])
    other = "000.00.19.H26-261130-0008"
    await EncryptionCodec(keys, other).encode([plain("x")])  # gives `other` a data key
    moved = Payload()
    moved.CopyFrom(sealed)
    moved.metadata["encryption-key-id"] = f"dossier:{other}".encode()
    with pytest.raises(KeysUnavailable, match="does not authenticate"):
        await EncryptionCodec(keys).decode([moved])
    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(KeysUnavailable, match="does not authenticate"):
        await EncryptionCodec(keys).decode([flipped])


async def test_rotation_new_payloads_use_the_new_key_old_ones_stay_readable(
    data_dir: Path,
) -> None:
    keys = local_keys(data_dir)
    ring = keys.master
    assert isinstance(ring, Keyring)
    first = ring.current
    [old_shared] = await EncryptionCodec(keys).encode([plain("shared")])
    [old_dossier] = await EncryptionCodec(keys, ROOT).encode([plain(APPLICANT)])

    second = ring.add()  # phase 1: readers learn it, writers keep the first
    assert ring.current == first
    reader = load_keys(data_dir)  # another process, started after phase 1
    assert isinstance(reader.master, Keyring) and second in reader.master.keys
    ring.use(second)  # phase 2
    [new_shared] = await EncryptionCodec(keys).encode([plain("shared")])
    assert key_id_of(old_shared) == f"master:{first}"
    assert key_id_of(new_shared) == f"master:{second}"
    fresh = local_keys(data_dir)
    assert await EncryptionCodec(fresh).decode([old_shared, new_shared, old_dossier]) == [
        plain("shared"),
        plain("shared"),
        plain(APPLICANT),
    ]

    # Retiring the first key: dossier data keys are rewrapped first (no history rewritten);
    # payloads sealed with the master key directly are then lost, which is why a key is
    # retired only after the histories it protects are gone.
    assert fresh.rewrap() == 1
    assert isinstance(fresh.master, Keyring)
    fresh.master.retire(first)
    after = local_keys(data_dir)
    assert await EncryptionCodec(after).decode([old_dossier]) == [plain(APPLICANT)]
    with pytest.raises(KeysUnavailable, match=f"master key '{first}' is not in the keyring"):
        await EncryptionCodec(after).decode([old_shared])
    with pytest.raises(KeysUnavailable, match="current key"):
        fresh.master.retire(second)


async def test_erasing_a_dossier_makes_only_its_payloads_unreadable(data_dir: Path) -> None:
    keys = local_keys(data_dir)
    other = "000.00.19.H26-261130-0009"
    [mine] = await EncryptionCodec(keys, ROOT).encode([plain(APPLICANT)])
    [theirs] = await EncryptionCodec(keys, other).encode([plain(APPLICANT)])
    from datetime import UTC, datetime

    assert keys.erase(ROOT, datetime(2036, 1, 2, tzinfo=UTC))
    assert not keys.erase(ROOT, datetime(2036, 1, 3, tzinfo=UTC))  # already erased
    for source in (keys, local_keys(data_dir)):  # this process, and one started afterwards
        with pytest.raises(DossierErased, match=f"dossier {ROOT}: personal data erased at 2036"):
            await EncryptionCodec(source).decode([mine])
        assert await EncryptionCodec(source).decode([theirs]) == [plain(APPLICANT)]
    with pytest.raises(DossierErased):  # nothing new is written under an erased dossier
        await EncryptionCodec(keys, ROOT).encode([plain("late")])
    record = json.loads((data_dir / "keys" / "dossiers" / f"{ROOT}.json").read_text())
    assert record == {"erased_at": "2036-01-02T00:00:00+00:00"}  # no key material left


def test_keys_are_private_files_made_on_first_run(data_dir: Path) -> None:
    local_keys(data_dir)
    ring = data_dir / KEYRING_FILE
    assert stat.S_IMODE(ring.stat().st_mode) == 0o600
    assert stat.S_IMODE(ring.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    raw = json.loads(ring.read_text())
    assert len(base64.b64decode(raw["keys"][raw["current"]]["key"])) == 32
    assert local_keys(data_dir).master.current == raw["current"]  # the same keys next time


def test_a_damaged_keyring_is_one_located_line(data_dir: Path) -> None:
    ring = data_dir / KEYRING_FILE
    ring.parent.mkdir()
    ring.write_text('{"current": "k1", "keys": {}}')
    with pytest.raises(KeysUnavailable, match=rf"^{ring}: current key missing"):
        local_keys(data_dir)


HOOKED: dict[str, KeySource] = {}


def kms_keys() -> KeySource:
    """What a deployment's `MOTCUA_KEYS=module:function` would return (here: a local ring)."""
    return HOOKED["keys"]


async def test_a_deployment_hook_supplies_the_keys(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    HOOKED["keys"] = local_keys(data_dir / "kms")
    monkeypatch.setenv("MOTCUA_KEYS", f"{__name__}:kms_keys")
    keys = load_keys(data_dir / "unused")
    assert keys is HOOKED["keys"] and not (data_dir / "unused").exists()
    monkeypatch.setenv("MOTCUA_KEYS", "no_such_module:keys")
    with pytest.raises(KeysUnavailable, match="MOTCUA_KEYS=no_such_module:keys"):
        load_keys(data_dir)


async def test_a_real_history_holds_no_personal_data_in_plain_text(
    dev_env: WorkflowEnvironment, data_dir: Path
) -> None:
    """Start a workflow with the applicant as input on the real server: the stored history
    (as `temporal workflow show` would fetch it) has no trace of the id number; decoding it
    with the keys gives it back."""
    from temporalio.client import Client

    env_client: Client = dev_env.client
    converter = encrypted_converter(local_keys(data_dir))
    config = env_client.config()
    config["data_converter"] = converter
    client = Client(**config)
    handle = await client.start_workflow(
        "NoSuchWorkflowType", APPLICANT, id=f"{ROOT}-codec-test", task_queue="codec-no-worker"
    )
    history = await handle.fetch_history()
    raw = b"".join(e.SerializeToString() for e in history.events)
    assert ID_NUMBER.encode() not in raw and "Bình".encode() not in raw
    started = history.events[0].workflow_execution_started_event_attributes
    assert key_id_of(started.input.payloads[0]) == f"dossier:{ROOT}-codec-test"
    assert converter.payload_codec is not None
    await decode_messages(history.events, converter.payload_codec)
    assert ID_NUMBER.encode() in b"".join(e.SerializeToString() for e in history.events)
    await handle.terminate()


def test_concurrent_first_uses_of_a_dossier_make_one_data_key(data_dir: Path) -> None:
    """A client and workers may seal a new dossier's first payloads at once: one key wins."""
    from concurrent.futures import ThreadPoolExecutor

    sources = [local_keys(data_dir) for _ in range(8)]  # as separate processes would
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda s: s.data_key(ROOT, create=True), sources * 4))
    assert len(set(keys)) == 1
    assert [p.name for p in (data_dir / "keys" / "dossiers").iterdir()] == [f"{ROOT}.json"]
