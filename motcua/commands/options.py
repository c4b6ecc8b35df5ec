"""Option types shared by commands, so that one value is spelled the same everywhere."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from procedures.models import Channel
from procedures.text import MAX_PAYLOAD
from runtime.errors import UserError

CHANNEL_CHOICES = ", ".join(c.value for c in Channel)


def channel(text: str) -> Channel:
    """`--channel`: a channel as procedure files spell it (`in_person`); `in-person`, which
    `motcua submit` once asked for, is accepted too."""
    try:
        return Channel(text.strip().lower().replace("-", "_"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown channel {text!r} (choose from {CHANNEL_CHOICES})"
        ) from None


def json_file(path: Path, what: str, limit: int = MAX_PAYLOAD) -> Any:
    """A JSON file given on the command line (`--form`, `--applicant`), read only up to
    `limit` bytes (a form is at most that much JSON anyway); any problem is one line naming
    the file."""
    try:
        with path.open("rb") as file:
            raw = file.read(limit + 1)
    except OSError as err:
        raise UserError(f"{what} file {path}: {err.strerror or err}") from None
    if len(raw) > limit:
        raise UserError(f"{what} file {path}: more than {limit // 1024} KiB")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{what} file {path}: not UTF-8") from None
    except ValueError as err:
        raise UserError(f"{what} file {path}: not JSON: {err}") from None
