"""`motcua validate`, `motcua schema` and `motcua graph`, as an author runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from motcua.cli import main
from procedures.loader import DEFAULT_CATALOG as CATALOG

FIXTURES = Path(__file__).parent / "fixtures" / "procedures"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture catalogue copied into the current (temporary) folder."""
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return Path("catalog")


def break_file(catalog: Path) -> None:
    path = catalog / "full.yaml"
    text = path.read_text("utf-8").replace(
        "    agency: police\n    role: officer\n", "    agnecy: police\n    role: officer\n"
    )
    path.write_text(text.replace("level: commune", "level: comune"), "utf-8")


def test_validate_a_valid_folder(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(catalog)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "2 procedure file(s) valid\n"


def test_validate_prints_every_problem_located(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    break_file(catalog)
    assert main(["validate", str(catalog / "full.yaml"), str(catalog / "sub.yaml")]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "catalog/full.yaml:8:8: level: `comune` is not one of: province, commune, district "
        "(hint: did you mean `commune`?)",
        "catalog/full.yaml:54:5: steps.police_check: unknown field `agnecy` "
        "(hint: did you mean `agency`?)",
    ]
    assert err == "2 problems in 1 file(s); 2 checked\n"


def test_validate_folder_reports_all_files(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (catalog / "sub.yaml").write_text("code: [\n", "utf-8")
    assert main(["validate", str(catalog)]) == 1
    out, _ = capsys.readouterr()
    files = {line.split(":")[0] for line in out.splitlines()}
    assert files == {"catalog/sub.yaml", "catalog/full.yaml"}


def test_validate_bad_path_is_one_line(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "nowhere.yaml"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "motcua: no such file or folder: nowhere.yaml\n")
    Path("empty").mkdir()
    assert main(["validate", "empty"]) == 2
    assert capsys.readouterr().err == "motcua: no procedure files (*.yaml) in empty\n"


def test_validate_defaults_to_the_packaged_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    assert capsys.readouterr().err.endswith("procedure file(s) valid\n")


def test_validate_as_a_process_never_shows_a_traceback(catalog: Path) -> None:
    break_file(catalog)
    (catalog / "sub.yaml").write_bytes(b"code: \xff\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "motcua", "validate", str(catalog)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "catalog/sub.yaml:1:7: not UTF-8: byte 0xff cannot be decoded" in done.stdout


def test_schema_for_editors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "urn:motcua:schema:procedure:1"
    assert schema["description"].startswith("One administrative procedure")
    steps = schema["properties"]["steps"]
    assert steps["propertyNames"]["pattern"] == "^[a-z][a-z0-9_]*$"
    assert "patternProperties" not in json.dumps(schema)
    assert "source" not in schema["$defs"]["Form"]["properties"]
    assert schema["$defs"]["ChoiceRule"]["required"] == ["if", "then"]
    assert schema["$defs"]["TaskStep"]["properties"]["share"]["description"]
    application = schema["properties"]["application"]
    assert application["additionalProperties"] == {"$ref": "#/$defs/FormField"}
    assert "application" not in schema["required"]
    defs = schema["$defs"]  # issue 14's language: editors offer it too
    assert "citizen_appointment" in defs["SuspendReason"]["enum"]
    assert {"reason"} <= set(defs["EndStep"]["properties"])
    assert {"required_if"} <= set(defs["Document"]["properties"])
    assert schema["properties"]["time_limits"]["items"] == {"$ref": "#/$defs/LimitCase"}
    assert defs["LimitCase"]["required"] == ["if", "limit"]
    citizen = defs["CitizenStep"]
    assert set(citizen["required"]) == {"kind", "deadline", "next", "on_timeout"}
    assert defs["SupplementClock"]["enum"] == ["suspend", "restart"]
    assert {"clock", "basis"} <= set(defs["SupplementPolicy"]["properties"])
    phases = schema["properties"]["phases"]
    assert phases["additionalProperties"] == {"$ref": "#/$defs/Phase"}
    assert phases["propertyNames"]["pattern"] == "^[a-z][a-z0-9_]*$"
    assert set(defs["Phase"]["required"]) == {"limit", "steps"}
    out = tmp_path / "procedure.schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text("utf-8")) == schema
    assert main(["schema", "--out", str(tmp_path / "no" / "such" / "dir.json")]) == 2


def test_graph_prints_mermaid(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(catalog / "full.yaml")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  subgraph a_commune["UBND xã A"]' in lines
    assert '    s_receive["receive<br/>one_stop"]' in lines
    assert '  s_receive -->|"accept · 0.5d"| s_route' in lines
    assert '  s_route{"route"}' in lines
    assert '  s_route -->|"form.age #lt; 6"| s_both' in lines
    assert '  s_police_check -->|"ok · 1d"| s_both__join' in lines
    assert "  s_both__join --> s_review" in lines
    assert '    s_child[["child<br/>↳ 9.000002 Thủ tục con"]]' in lines
    assert '  s_approved(["approved: approved"])' in lines
    assert '  s_pay -->|"timeout 5 calendar d"| s_stopped' in lines


def _graph(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["graph", str(path)]) == 0
    return capsys.readouterr().out.splitlines()


def _clusters_of(lines: list[str]) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Each subgraph's title, and each node's enclosing subgraphs (outermost first)."""
    titles: dict[str, str] = {}
    inside: dict[str, tuple[str, ...]] = {}
    stack: list[str] = []
    for line in lines:
        text = line.strip()
        if text.startswith("subgraph "):
            name, _, title = text.removeprefix("subgraph ").partition("[")
            titles[name] = title.removesuffix("]")
            stack.append(name)
        elif text == "end":
            stack.pop()
        elif stack and text.startswith("s_") and "-->" not in text:
            node = text.split("[")[0].split("(")[0].split("{")[0]
            inside[node] = tuple(stack)
    assert stack == [], "every subgraph is closed"
    return titles, inside


def test_graph_draws_phases_as_clusters_with_their_limits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """construction-permit-house.yaml: appraisal (7 working days) and consultation (12 days)
    each a cluster holding its own steps, by agency; the steps after them outside both."""
    lines = _graph(CATALOG / "construction-permit-house.yaml", capsys)
    titles, inside = _clusters_of(lines)
    assert titles["p_appraisal"] == '"⏱ Thẩm định hồ sơ, kiểm tra thực địa · 7d"'
    assert titles["p_consultation"] == (
        '"⏱ Lấy ý kiến cơ quan quản lý nhà nước có liên quan · 12 calendar d"'
    )
    assert inside["s_receive"] == ("p_appraisal", "a_commune__appraisal")
    assert inside["s_appraise"] == ("p_appraisal", "a_infrastructure__appraisal")
    assert inside["s_consult_culture"][0] == "p_consultation"
    assert inside["s_consult_construction"][0] == "p_consultation"
    assert inside["s_draft_permit"] == ("a_infrastructure",)
    assert inside["s_sign_permit"] == ("a_commune",)
    assert {node for node, where in inside.items() if where and where[0] == "p_appraisal"} == {
        "s_receive",
        "s_appraise",
    }
    assert '  s_appraise -->|"propose_permit · 4d"| s_needs_consultation' in lines


def test_graph_draws_a_repeated_step_with_its_times_and_period(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """unemployment-benefit.yaml: the monthly report, its count (an expression) and period,
    and the two ways out (done, three missed in a row)."""
    lines = _graph(CATALOG / "unemployment-benefit.yaml", capsys)
    [shape] = [line for line in lines if line.startswith("  s_monthly_report[/")]
    assert "🔁 applicant × ([3 + [form.contribution_months - 36, 0] #124; max // 12, 12]" in shape
    assert shape.endswith(', every 30 calendar d"/]')
    assert '  s_monthly_report -->|"done"| s_benefit_completed' in lines
    assert '  s_monthly_report -->|"3 missed in a row"| s_benefit_ended' in lines
    assert not any(line.strip().startswith("subgraph p_") for line in lines), "no phases"


def test_graph_escapes_labels(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = catalog / "full.yaml"
    text = path.read_text("utf-8").replace(
        "  receive:\n    kind: task\n",
        '  receive:\n    kind: task\n    title: "Tiếp nhận \\"hồ sơ\\" [bước #1] <a>"\n',
    )
    path.write_text(text, "utf-8")
    assert main(["graph", str(path)]) == 0
    out = capsys.readouterr().out
    assert 's_receive["Tiếp nhận #quot;hồ sơ#quot; [bước #35;1] #lt;a#gt;<br/>one_stop"]' in out


def test_graph_of_a_broken_file(catalog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    break_file(catalog)
    assert main(["graph", str(catalog / "full.yaml")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "unknown field `agnecy`" in err
    assert main(["graph", "missing.yaml"]) == 2
