"""Whatever an author does to a valid file, the loader answers with its own located errors.

Valid fixture files are mutated, as data (keys dropped, values swapped for other types,
references renamed) and as text (truncated, garbage inserted, bytes broken); loading must
either succeed or raise `ProcedureError`, never another exception, and every problem must
point inside the file it names.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procedures.errors import ProcedureError
from procedures.loader import load_procedure
from procedures.yamlnodes import LINE_BREAK

FIXTURES = Path(__file__).parent / "fixtures" / "procedures"
ORIGINALS = {
    name: (FIXTURES / "catalog" / name).read_text("utf-8") for name in ("full.yaml", "sub.yaml")
}
NAMES = ["receive", "route", "review", "commune", "police", "head", "officer", "9.000002", "x"]
OTHER_VALUES: list[Any] = [
    None,
    0,
    -1,
    2.5,
    True,
    "",
    "Bad Name",
    "x" * 70,
    [],
    {},
    ["a"],
    {"k": 1},
]

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    """One catalogue folder for all examples (hypothesis reruns a test body many times)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(FIXTURES, tmp, dirs_exist_ok=True)
        yield Path(tmp) / "catalog"


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from paths(value, (*prefix, key))


@st.composite
def data_mutations(draw: st.DrawFn) -> tuple[str, str]:
    """A fixture file re-written after a few changes to its data."""
    name = draw(st.sampled_from(sorted(ORIGINALS)))
    data = copy.deepcopy(yaml.safe_load(ORIGINALS[name]))
    for _ in range(draw(st.integers(1, 4))):
        every = list(paths(data))
        if not every:
            break
        path = draw(st.sampled_from(every))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        what = draw(st.sampled_from(["drop", "swap", "rename", "rename_key"]))
        if what == "drop":
            del parent[path[-1]]
        elif what == "swap":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(OTHER_VALUES)))
        elif what == "rename":
            parent[path[-1]] = draw(st.sampled_from(NAMES))
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from([*NAMES, "agnecy", "kind", 3]))] = parent.pop(path[-1])
    return name, yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@st.composite
def text_mutations(draw: st.DrawFn) -> tuple[str, str | bytes]:
    """A fixture file's text truncated, with garbage inserted, or with broken bytes."""
    name = draw(st.sampled_from(sorted(ORIGINALS)))
    text = ORIGINALS[name]
    where = draw(st.integers(0, len(text)))
    what = draw(st.sampled_from(["truncate", "insert", "replace_line", "bytes"]))
    if what == "truncate":
        return name, text[:where]
    if what == "insert":
        garbage = draw(
            st.text(alphabet=st.sampled_from(list(":-[]{}&*!|>'\"#%@` \n\tabcđ1.,?")), max_size=12)
        )
        return name, text[:where] + garbage + text[where:]
    if what == "replace_line":
        lines = text.split("\n")
        index = draw(st.integers(0, len(lines) - 1))
        lines[index] = draw(st.text(max_size=30))
        return name, "\n".join(lines)
    encoded = bytearray(text.encode())
    at = draw(st.integers(0, len(encoded) - 1))
    encoded[at] = draw(st.integers(0x80, 0xFF))
    return name, bytes(encoded)


def check_answer(folder: Path, name: str, content: str | bytes) -> None:
    """Load `content` as `name` in the folder: success, or only located problems."""
    path = folder / name
    try:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, "utf-8")
        try:
            load_procedure(path)
        except ProcedureError as err:
            assert err.problems
            for problem in err.problems:
                assert problem.message
                text = Path(problem.file).read_bytes().decode("utf-8", errors="replace")
                lines = LINE_BREAK.split(text)
                assert 1 <= problem.line <= len(lines), problem
                assert 1 <= problem.column <= len(lines[problem.line - 1]) + 1, problem
    finally:
        path.write_text(ORIGINALS[name], "utf-8")


@SETTINGS
@given(data_mutations())
def test_mutated_data_gives_only_located_problems(folder: Path, case: tuple[str, str]) -> None:
    check_answer(folder, *case)


@SETTINGS
@given(text_mutations())
def test_mutated_text_gives_only_located_problems(
    folder: Path, case: tuple[str, str | bytes]
) -> None:
    check_answer(folder, *case)


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_gives_only_located_problems(folder: Path, text: str) -> None:
    check_answer(folder, "full.yaml", text)
