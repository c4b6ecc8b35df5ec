"""`motcua setup` registers motcua's search attributes on a namespace that lacks them, through
the operator service of a real dev server started without them (as a cluster is)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.testing import WorkflowEnvironment

from motcua.cli import main
from motcua.devserver import find_binary, shut_down
from workflows.search_attributes import ALL


@pytest.fixture(scope="module")
async def bare() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server with none of motcua's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_binary("temporal")), dev_server_log_level="error"
    )
    try:
        yield env
    finally:
        await shut_down(env)


async def custom(env: WorkflowEnvironment) -> dict[str, int]:
    listed = await env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=env.client.namespace)
    )
    return dict(listed.custom_attributes)


def motcua(*args: str, address: str) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process (it runs its own event loop)."""
    env = {**os.environ, "TEMPORAL_ADDRESS": address}
    return subprocess.run(
        [sys.executable, "-m", "motcua", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_setup_adds_the_attributes_once(bare: WorkflowEnvironment) -> None:
    address = bare.client.service_client.config.target_host
    done = motcua("setup", address=address)
    assert done.returncode == 0, done.stderr
    added = done.stdout.split("added ", 1)[1].split(";", 1)[0]
    assert done.stdout.count("\n") == 1 and added == ", ".join(sorted(k.name for k in ALL))
    found = await custom(bare)
    for key in ALL:
        assert found[key.name] == int(key.indexed_value_type)
    again = motcua("setup", "--json", address=address)
    assert again.returncode == 0 and '"added": []' in again.stdout


async def test_a_clashing_attribute_is_one_line() -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_binary("temporal")), dev_server_log_level="error"
    )
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={"Overdue": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
            )
        )
        done = motcua("setup", address=env.client.service_client.config.target_host)
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1
        assert "Overdue exists on the server as Keyword, motcua needs Bool" in done.stderr
    finally:
        await shut_down(env)


def test_cloud_prints_tcld_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--cloud", "motcua.a1b2c"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(ALL)
    assert "--namespace motcua.a1b2c --search-attribute 'PendingRoles=KeywordList'" in lines[3]
