"""A dossier that pays before receipt, unpaid, on the dev server's visibility (interpreter 7,
`received_at_on_receipt`): the indicators do not count it as received, open or ended, even
once it ends never received, and no officer's inbox lists it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from helpers import catalogue_copy, eventually

from motcua import client as ops
from motcua.indicators import figures
from motcua.indicators.queries import Scope, dossiers
from procedures.models import Channel
from workflows import search_attributes as sa
from workflows.api import Applicant, PortalStatus

APPLICANT = Applicant(full_name="Trần Thị Mai", id_number="001190000002")


async def test_an_unpaid_dossier_is_never_counted_as_received(
    dev_env: Any, run_worker: Callable[..., Any], tmp_path: Path, data_dir: Path
) -> None:
    client = dev_env.client
    n = uuid.uuid4().int % 90000 + 10000
    agency, queue = f"T{n}.00.12.H26", f"prepay-{n}"
    procedure = catalogue_copy(
        tmp_path,
        "private-enterprise-registration.yaml",
        ('code: "000.00.12.H26"', f'code: "{agency}"'),
        ("task_queue: registration_office\n", f"task_queue: {queue}\n"),
    )
    scope = Scope(
        start=datetime.now(UTC) - timedelta(hours=1),
        end=datetime.now(UTC) + timedelta(hours=1),
        agency=agency,
    )
    async with run_worker(client, queue, data_dir):
        submitted = await ops.submit(
            client, procedure, APPLICANT, Channel.ONLINE, documents=("request", "owner_identity")
        )
        assert submitted.awaiting_payment

        async def registered() -> bool:
            return (await ops.show(client, submitted.code)).status is PortalStatus.REGISTERED

        await eventually(registered, timeout=20, what="awaiting payment (status 1)")
        mine = dossiers(scope, f"{sa.PORTAL_STATUS.name} = {PortalStatus.REGISTERED.value}")

        async def listed() -> bool:
            return (await figures.count_all(client, [mine])) == [1]

        await eventually(listed, timeout=20, what="visibility holds the unpaid dossier")
        unpaid = await figures.row(
            client, scope, "unpaid", fee_procedures=[procedure.procedure.code]
        )
        counted = (unpaid.received, unpaid.in_progress_on_time, unpaid.in_progress_overdue)
        assert counted == (0, 0, 0)
        assert unpaid.with_fees == 0
        inbox = await ops.inbox(client, agency)
        assert (inbox.total, inbox.rows) == (0, ())

        await ops.withdraw(client, submitted.code, "không nộp", applicant_id=APPLICANT.id_number)
        withdrawn = dossiers(scope, f"{sa.RESULT.name} = 'withdrawn'")

        async def ended() -> bool:
            return (await figures.count_all(client, [withdrawn])) == [1]

        await eventually(ended, timeout=20, what="visibility holds its result")
        never = await figures.row(client, scope, "never received", fee_procedures=[])
        assert (never.received, never.withdrawn, never.in_progress_on_time) == (0, 0, 0)
