"""`motcua audit replay --query Q --shard i/n`: n machines share a query's histories, each
history replayed by exactly one shard, on a real dev server."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from motcua.audit.history import shard_of
from motcua.cli import main
from motcua.client import allocation as allocator
from workflows.counter import ticket


def test_shards_partition_ids_evenly_and_stably() -> None:
    ids = [f"000.00.19.H26-261130-{i:04d}" for i in range(4000)]
    sizes = [sum(shard_of(i, 4) == s for i in ids) for s in range(1, 5)]
    assert sum(sizes) == len(ids) and min(sizes) > 900
    assert shard_of(ids[0], 4) == shard_of(ids[0], 4)


@pytest.fixture
async def counters(dev_env: Any, run_worker: Any, data_dir: Path) -> tuple[str, str, set[str]]:
    """Eight agency counters with one allocation each: eight histories to replay."""
    client = dev_env.client
    run = uuid.uuid4().hex[:6].upper()
    queue = f"shard-{run}"
    ids = set()
    async with run_worker(client, queue, data_dir):
        for i in range(8):
            agency = f"S{run}.{i:02d}.H26"
            await allocator.number(client, agency, queue, ticket("r", "c"))
            ids.add(f"counter-{agency}")
    query = f"WorkflowType = 'AgencyCounter' AND TaskQueue = '{queue}'"
    return client.service_client.config.target_host, query, ids


def test_each_history_is_replayed_by_one_shard(
    counters: tuple[str, str, set[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address, query, ids = counters
    monkeypatch.setenv("TEMPORAL_ADDRESS", address)
    seen: list[str] = []
    for i in range(1, 4):
        assert main(["audit", "replay", "--query", query, "--shard", f"{i}/3", "--jobs", "1"]) == 0
        out = capsys.readouterr().out
        replayed = re.findall(r"^ok +(\S+) run ", out, re.M)
        assert all(shard_of(r, 3) == i for r in replayed)
        seen += replayed
    assert sorted(seen) == sorted(ids)


def test_a_malformed_shard_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("0/3", "4/3", "x", "1/"):
        assert main(["audit", "replay", "--query", "x", "--shard", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "expected I/N" in err
    assert main(["audit", "replay", "A-1", "--shard", "1/2"]) == 2
    assert "--shard splits a --query" in capsys.readouterr().err
