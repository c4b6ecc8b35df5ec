"""Rejected attempts: a rejected update leaves no event in history, so the worker logs who
tried what and why (`update_rejected`), and the trail reads them from that log."""

from __future__ import annotations

import json
from pathlib import Path

from motcua.audit.history import HistoryError
from motcua.audit.masking import Mask
from motcua.audit.records import Rejection


def read_rejections(path: Path, code: str, mask: Mask) -> list[Rejection]:
    """The `update_rejected` lines of a dossier in a structlog JSON lines file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise HistoryError(str(path), f"cannot read the log: {err.strerror or err}") from err
    found = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # console lines and torn lines are not ours
        if not isinstance(record, dict) or record.get("event") != "update_rejected":
            continue
        if record.get("dossier") != code:
            continue
        found.append(
            Rejection(
                at=record.get("timestamp"),
                who=str(record.get("who", "")),
                what=str(record.get("what", "")),
                why=mask.text(str(record.get("why", ""))),
            )
        )
    return found
