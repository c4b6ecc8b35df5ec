"""The interpreter's behaviour table: the one place versions are read (workflows/behaviours.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workflows import behaviours
from workflows.api import DOSSIER_WORKFLOW, INTERPRETER, updates_last

ROOT = Path(__file__).resolve().parents[1]


def test_new_dossiers_run_the_newest_version_of_the_table() -> None:
    assert max(behaviours.BEHAVIOURS) == INTERPRETER
    assert behaviours.has(INTERPRETER, "tells_officers")
    assert behaviours.has(INTERPRETER, "indicator_attributes")
    assert not behaviours.has(3, "indicator_attributes")
    assert not behaviours.has(1, "one_dossier_timer")


def test_an_unknown_version_is_named_in_the_error() -> None:
    with pytest.raises(
        ValueError, match="no interpreter version 99: known \\[1, 2, 3, 4, 5, 6, 7\\]"
    ):
        behaviours.has(99, "updates_last")


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ({}, False),  # recorded before the `interpreter` field: version 1
        ({"interpreter": 1}, False),
        ({"interpreter": 2}, True),
        ({"interpreter": INTERPRETER}, True),
        ({"interpreter": 99}, False),
        ({"interpreter": "3"}, False),
        ({"interpreter": [3]}, False),
        ("not a dict", False),
    ],
)
def test_updates_last_is_read_from_the_raw_input(argument: object, expected: bool) -> None:
    assert updates_last(DOSSIER_WORKFLOW, argument) is expected
    assert updates_last("AgencyCounter", argument) is False


def test_no_workflow_module_compares_version_numbers() -> None:
    """Versions are read through the table only; a comparison elsewhere would bypass it."""
    compares = re.compile(r"interpreter(_version\(\))?\s*(>=|<=|==|!=|<|>)")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "workflows").glob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if compares.search(line)
    ]
    assert found == []
