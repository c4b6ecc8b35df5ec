"""A hostile user of the command line: files that never end, nest without end or are not JSON.

Each is one located line and a non-zero status, before anything is sent or started
(docs/security.md, "Input limits and hostile procedures").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from motcua import cli

CATALOG = Path(__file__).parent.parent / "procedures" / "catalog"
HOUSEHOLD = str(CATALOG / "household-business.yaml")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "deep": "[" * 20_000 + "]" * 20_000,
        "nested": json.dumps({"a": json.loads("[" * 400 + "]" * 400)}),
        "list": "[1, 2]",
        "latin1": '{"full_name": "Tr\xe2n"}',
        "applicant": json.dumps({"full_name": "Trần Văn An", "id_number": "001090000123"}),
    }
    paths = {}
    for name, text in made.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_bytes(text.encode("latin-1" if name == "latin1" else "utf-8"))
    paths["zero"] = Path("/dev/zero")  # says it is empty, and never ends
    paths["folder"] = tmp_path
    return paths


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli.main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return status, err[0]


@pytest.mark.parametrize(
    ("which", "said"),
    [
        ("zero", "more than 64 KiB"),
        ("deep", "JSON nested too deeply"),
        ("nested", "nested more than 32 deep"),
        ("list", "expected a JSON object"),
        ("latin1", "not UTF-8"),
        ("folder", "cannot read"),
    ],
)
def test_a_hostile_form_or_data_file_is_one_line(
    which: str,
    said: str,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing may be sent anyway
    bad = str(files[which])
    for args in (
        ["submit", "1.001193", "--applicant", str(files["applicant"]), "--form", bad],
        ["submit", "1.001193", "--applicant", bad],
        ["event", "000.00.19.H26-261130-0001", "paid", "--data", bad],
        ["dryrun", HOUSEHOLD, "--form", bad],
    ):
        status, line = run(args, capsys)
        assert status != 0 and bad in line and said in line, (args, line)


def test_a_procedure_file_that_never_ends_is_one_located_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["validate", "/dev/zero"]) == 1
    said = capsys.readouterr()
    assert "/dev/zero:1:1: file of more than the 1048576 bytes allowed" in (said.out + said.err)


def test_a_history_file_that_never_ends_fails_its_replay_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["audit", "replay", "--file", "/dev/zero"]) == 1
    out = capsys.readouterr().out
    assert "FAILED  /dev/zero: more than 200 MiB" in out
