"""JSON files a user names on the command line (`--applicant`, `--form`, `--data`).

Read at most their limit (a device such as /dev/zero, or a file growing while it is read, never
hangs a command), and every way one can be wrong is one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from procedures.text import MAX_PAYLOAD, depth_problem
from runtime.errors import UserError


def read_bounded(path: Path, limit: int, what: str, exit_code: int = 2) -> bytes:
    """The file's bytes, refused once it holds more than `limit`."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as err:
        raise UserError(f"{what} {path}: cannot read: {err.strerror or err}", exit_code) from None
    if len(data) > limit:
        raise UserError(f"{what} {path}: more than {limit // 1024} KiB", exit_code)
    return data


def json_object(
    path: Path, what: str, limit: int = MAX_PAYLOAD, exit_code: int = 2
) -> dict[str, Any]:
    """The JSON object in the file: bounded in size and depth, UTF-8, an object."""
    data = read_bounded(path, limit, what, exit_code)
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise UserError(f"{what} {path}: not UTF-8 (byte {err.start})", exit_code) from None
    except RecursionError:
        raise UserError(f"{what} {path}: JSON nested too deeply", exit_code) from None
    except ValueError as err:
        raise UserError(f"{what} {path}: not JSON: {err}", exit_code) from None
    if not isinstance(value, dict):
        raise UserError(f"{what} {path}: expected a JSON object", exit_code)
    too_deep = depth_problem(value)
    if too_deep is not None:
        raise UserError(f"{what} {path}: {too_deep}", exit_code)
    return value
