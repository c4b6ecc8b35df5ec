"""What the dossier commands share: the `--json` switch, printing, and instants in local time.

Every value printed as text goes through `shown` (`procedures.text.escape`): what officers,
citizens or a raw client wrote cannot move a terminal's cursor, reverse a line or fake one.
Text output is for people; `--json` output is the client's pydantic models, for scripts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import BaseModel, TypeAdapter

from procedures.text import escape
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
    """Print `result` as JSON, or as the text `text()` renders, each line's control characters
    escaped (values should already be `shown`; this is the net under every command)."""
    if not as_json:
        print("\n".join(escape(line) for line in text().split("\n")))
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


def shown(value: object, limit: int | None = 300) -> str:
    """A value someone else wrote (a user, a note, a title), safe on one line of a terminal:
    control characters, new lines and bidirectional marks escaped, cut at `limit`."""
    return escape(str(value), limit)
