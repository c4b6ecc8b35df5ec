"""Every YAML example of docs/language.md still means what the page says, so the reference an
author writes procedures from cannot rot: the complete example validates as a file, each
fragment validates as part of it, and the page's "three mistakes" print as shown."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from motcua.cli import main
from procedures.models import Procedure
from procedures.yamlnodes import compose, to_data

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "language.md"
TEXT = PAGE.read_text(encoding="utf-8")
BLOCKS = [
    (TEXT[: found.start()].count("\n") + 2, found.group(1))
    for found in re.finditer(r"```yaml\n(.*?)```", TEXT, re.S)
]
"""(first line in the page, text) of each ```yaml block."""
ELIDED = ("…", "# ...")
"""How the page says a step is abridged: its other keys are the complete example's."""
TOP_LEVEL = {field.alias or name for name, field in Procedure.model_fields.items()}


def _read(text: str, where: str) -> Any:
    """A block read as motcua reads procedure files (YAML 1.2 core schema)."""
    data, problems = to_data(compose(text, where), where)
    assert not problems, problems
    return data


COMPLETE = _read(BLOCKS[0][1], f"{PAGE}:{BLOCKS[0][0]}")


def _completed(fragment: dict[str, Any], abridged: bool) -> dict[str, Any]:
    """The complete example with a fragment's top-level keys and steps put in."""
    procedure = copy.deepcopy(COMPLETE)
    for key, value in fragment.items():
        if key in TOP_LEVEL and key != "steps":
            merge = isinstance(value, dict) and isinstance(procedure.get(key), dict)
            procedure[key] = {**procedure[key], **value} if merge else value
            continue
        for name, step in (value if key == "steps" else {key: value}).items():
            kept = procedure["steps"].get(name, {}) if abridged else {}
            procedure["steps"][name] = kept | {k: v for k, v in step.items() if k != "…"}
    return procedure


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) >= 15
    assert COMPLETE["code"] == "1.000001"


def test_the_complete_example_validates_from_any_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Copied as it stands into an author's own folder, with motcua's own forms."""
    path = tmp_path / "example.yaml"
    path.write_text(BLOCKS[0][1], encoding="utf-8")
    assert main(["validate", str(path)]) == 0, capsys.readouterr().out
    assert "1 procedure file(s) valid" in capsys.readouterr().err


@pytest.mark.parametrize(("line", "text"), BLOCKS[1:], ids=[f"line{n}" for n, _ in BLOCKS[1:]])
def test_every_fragment_fits_the_language(line: int, text: str) -> None:
    """Keys, kinds, types and bounds of each fragment are the models' (a renamed key or a
    kind the language dropped fails here, naming the page's line)."""
    fragment = _read(text, f"{PAGE}:{line}")
    assert isinstance(fragment, dict)
    procedure = _completed(fragment, any(mark in text for mark in ELIDED))
    try:
        Procedure.model_validate(procedure)
    except ValidationError as err:
        pytest.fail(f"docs/language.md:{line}: {err}")


def test_the_three_mistakes_print_as_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's sample output of `motcua validate` is what the command prints."""
    shown = re.search(r"\(`motcua validate (\S+)`\):\n\n```\n(.*?)```", TEXT, re.S)
    assert shown is not None
    path = tmp_path / shown.group(1)
    path.parent.mkdir(parents=True)
    broken = (
        BLOCKS[0][1]
        .replace("role: specialist\n    share: 2", "role: specialst\n    share: 3")
        .replace("approve: approved", "approve: aproved")
    )
    path.write_text(broken, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", shown.group(1)]) == 1
    assert capsys.readouterr().out == shown.group(2)
