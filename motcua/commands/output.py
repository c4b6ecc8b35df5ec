"""What the dossier commands share: the `--json` switch, printing, and instants in local time.

Text output is for people; `--json` output is the client's pydantic models, for scripts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import BaseModel, TypeAdapter

from workflows.forms import VIETNAM

_MODELS: TypeAdapter[list[BaseModel]] = TypeAdapter(list[BaseModel])


def add_common(parser: argparse.ArgumentParser) -> None:
    """`--json` and `--address` on every command that talks to Temporal."""
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--address",
        help="Temporal server host:port (default: TEMPORAL_ADDRESS or localhost:7233)",
    )


def emit(result: BaseModel | Sequence[BaseModel], as_json: bool, text: Callable[[], str]) -> None:
    """Print `result` as JSON, or as the text `text()` renders."""
    if not as_json:
        print(text())
    elif isinstance(result, BaseModel):
        print(result.model_dump_json(indent=2))
    else:
        print(_MODELS.dump_json(list(result), indent=2, serialize_as_any=True).decode())


def when(at: datetime | None) -> str:
    """An instant in Vietnam's time, `YYYY-MM-DD HH:MM`."""
    return at.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M") if at else "-"


def hours(minutes: float) -> str:
    """Working minutes as `Hh MMm`, negative when late."""
    sign = "-" if minutes < 0 else ""
    whole = abs(int(minutes))
    return f"{sign}{whole // 60}h{whole % 60:02d}"
