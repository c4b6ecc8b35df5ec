"""Loading procedure files: located errors for every kind of author mistake, and freezing."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from procedures.errors import Problem, ProcedureError
from procedures.loader import DEFAULT_CATALOG, load_catalog, load_procedure
from procedures.models import FormKind, FrozenProcedure

FIXTURES = Path(__file__).parent / "fixtures" / "procedures"
FULL = (FIXTURES / "catalog" / "full.yaml").read_text("utf-8")
SUB = (FIXTURES / "catalog" / "sub.yaml").read_text("utf-8")


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of the fixture catalogue (`full.yaml`, `sub.yaml`) with its form templates."""
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    return tmp_path / "catalog"


def edit(text: str, old: str, new: str) -> str:
    """`text` with the first `old` replaced, failing loudly if the fixture changed."""
    assert old in text, old
    return text.replace(old, new, 1)


def at(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based line and column of the `nth` occurrence of `needle` in `text`."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def problems(path: Path, **options: Path) -> list[Problem]:
    with pytest.raises(ProcedureError) as info:
        load_procedure(path, **options)
    return list(info.value.problems)


def only(path: Path) -> Problem:
    found = problems(path)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def write(catalog: Path, text: str, name: str = "full.yaml") -> Path:
    path = catalog / name
    path.write_text(text, "utf-8")
    return path


def test_valid_file_is_frozen_with_templates_and_subprocedures(catalog: Path) -> None:
    frozen = load_procedure(catalog / "full.yaml")
    assert frozen.procedure.code == "9.000001"
    assert len(frozen.content_hash) == 64
    assert frozen.source == str(catalog / "full.yaml")
    assert "{{ dossier.code }}" in (frozen.procedure.forms[FormKind.RECEIPT].source or "")
    sub = frozen.subprocedures["9.000002"]
    assert sub.procedure.name == "Thủ tục con"
    assert sub.subprocedures == {}
    with pytest.raises(ValidationError):
        frozen.procedure.steps["receive"].title = "x"  # type: ignore[misc]
    again = FrozenProcedure.model_validate_json(frozen.model_dump_json())
    assert again == frozen
    assert (
        json.loads(frozen.model_dump_json(by_alias=True))["procedure"]["steps"]["route"]["when"][0][
            "if"
        ]
        == "form.age < 6"
    )


def test_content_hash_follows_content_not_place(catalog: Path, tmp_path: Path) -> None:
    first = load_procedure(catalog / "full.yaml").content_hash
    moved = tmp_path / "elsewhere" / "catalog"
    shutil.copytree(catalog.parent, moved.parent)
    assert load_procedure(moved / "full.yaml").content_hash == first
    (catalog.parent / "forms" / "receipt.html.j2").write_text("<p>khác</p>\n", "utf-8")
    assert load_procedure(catalog / "full.yaml").content_hash != first
    (catalog.parent / "forms" / "receipt.html.j2").write_text("<p>x</p>\n", "utf-8")
    write(catalog, edit(SUB, "share: 2", "share: 1.5"), "sub.yaml")
    changed = load_procedure(catalog / "full.yaml")
    assert changed.content_hash != first
    assert changed.subprocedures["9.000002"].procedure.steps["decide"].share == 1.5  # type: ignore[union-attr]


def test_yaml_syntax_error_is_located(catalog: Path) -> None:
    text = edit(FULL, "channels: [online, in_person]", "channels: [online, in_person")
    problem = only(write(catalog, text))
    assert problem.message.startswith("YAML syntax error:")
    assert "expected ',' or ']'" in problem.message
    assert (problem.line, problem.column) == at(text, ": {amount: 5")


def test_duplicate_key_is_rejected_at_the_second_key(catalog: Path) -> None:
    text = edit(FULL, "    role: one_stop\n", "    role: one_stop\n    role: officer\n")
    problem = only(write(catalog, text))
    assert problem.message == "duplicate key `role`"
    assert (problem.line, problem.column) == at(text, "role: officer")


def test_unknown_field_names_the_closest_one(catalog: Path) -> None:
    text = edit(
        FULL, "    agency: police\n    role: officer\n", "    agnecy: police\n    role: officer\n"
    )
    problem = only(write(catalog, text))
    assert problem.message == "steps.police_check: unknown field `agnecy`"
    assert problem.hint == "did you mean `agency`?"
    assert (problem.line, problem.column) == at(text, "agnecy")


def test_unknown_field_of_each_step_kind(catalog: Path) -> None:
    text = edit(FULL, "    otherwise: review", "    otherwize: review")
    text = edit(text, "    on_timeout: stopped", "    on_timout: stopped")
    found = problems(write(catalog, text))
    assert [(p.message, p.hint, p.line, p.column) for p in found] == [
        (
            "steps.route: unknown field `otherwize`",
            "did you mean `otherwise`?",
            *at(text, "otherwize"),
        ),
        (
            "steps.pay: unknown field `on_timout`",
            "did you mean `on_timeout`?",
            *at(text, "on_timout"),
        ),
    ]


def test_missing_field_is_reported_on_the_mapping_that_lacks_it(catalog: Path) -> None:
    text = edit(FULL, "    role: one_stop\n", "")
    problem = only(write(catalog, text))
    assert problem.message == "steps.receive: missing required field `role`"
    assert (problem.line, problem.column) == at(text, "kind: task")


def test_wrong_types_are_said_in_yaml_words(catalog: Path) -> None:
    text = edit(FULL, 'code: "9.000001"', "code: 9.000001")
    text = edit(text, "share: 0.5", "share: half")
    found = problems(write(catalog, text))
    assert [(p.message, p.hint, p.line, p.column) for p in found] == [
        ("code: expected text, got the number `9.000001`", 'quote it: "9.000001"', 2, 7),
        (
            "steps.receive.share: expected a number, got the text `half`",
            None,
            *at(text, "half"),
        ),
    ]


def test_unknown_enum_value_suggests_the_closest(catalog: Path) -> None:
    text = edit(FULL, "level: commune", "level: comune")
    problem = only(write(catalog, text))
    assert problem.message == "level: `comune` is not one of: province, commune, district"
    assert problem.hint == "did you mean `commune`?"
    assert (problem.line, problem.column) == at(text, "comune")


def test_unknown_step_kind(catalog: Path) -> None:
    text = edit(FULL, "    kind: choice\n", "    kind: chioce\n")
    problem = only(write(catalog, text))
    assert problem.message == "steps.route: unknown step kind `chioce`"
    assert problem.hint == "did you mean `choice`?"
    assert (problem.line, problem.column) == at(text, "chioce")


def test_bad_name_is_located_on_the_key(catalog: Path) -> None:
    text = edit(FULL, "  stopped: {kind: end", "  Stopped: {kind: end")
    found = problems(write(catalog, text))
    bad = [p for p in found if "is not a valid name" in p.message]
    assert [(p.message, p.line, p.column) for p in bad] == [
        ("steps.Stopped: `Stopped` is not a valid name", *at(text, "Stopped"))
    ]


def test_decision_without_next_step(catalog: Path) -> None:
    text = edit(
        FULL,
        "decisions: {accept: route, refuse: refused}",
        "decisions: {accept: , refuse: refused}",
    )
    problem = only(write(catalog, text))
    assert problem.message == "steps.receive.decisions.accept: decision `accept` has no next step"
    assert problem.hint == "write the step it leads to: `accept: …`"
    assert (problem.line, problem.column) == at(text, ", refuse")  # where the value is missing


def test_hours_stay_text_as_in_yaml_1_2(catalog: Path) -> None:
    text = edit(
        FULL,
        "    task_queue: police\n",
        "    task_queue: police\n    hours: {periods: [[7:30, '11:30']], cutoff: '15:00'}\n",
    )
    problem = only(write(catalog, text))
    assert problem.message == (
        'agencies.police.hours.periods[0][0]: expected a time like "07:30", got the text `7:30`'
    )
    assert (problem.line, problem.column) == at(text, "7:30")


def test_empty_file(catalog: Path) -> None:
    problem = only(write(catalog, "# nothing but a comment\n\n"))
    assert (problem.message, problem.line, problem.column) == ("empty file", 1, 1)


def test_file_that_is_not_a_mapping(catalog: Path) -> None:
    problem = only(write(catalog, "- code\n- name\n"))
    assert problem.message == "expected a mapping of fields, got a list"
    assert (problem.line, problem.column) == (1, 1)


def test_non_utf8_file(catalog: Path) -> None:
    path = catalog / "full.yaml"
    path.write_bytes(b'code: "9.000001"\nname: "Th\xf9 t\xf9c"\n')
    problem = only(path)
    assert problem.message == "not UTF-8: byte 0xf9 cannot be decoded"
    assert (problem.line, problem.column) == (2, 10)


def test_control_character_is_located(catalog: Path) -> None:
    text = edit(FULL, 'version: "1"', 'version: "1\x07"')
    problem = only(write(catalog, text))
    assert "not allowed" in problem.message
    assert (problem.line, problem.column) == at(text, "\x07")


def test_billion_laughs_is_stopped_quickly(catalog: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    started = time.perf_counter()
    problem = only(write(catalog, "\n".join(lines) + "\n"))
    assert time.perf_counter() - started < 2
    assert problem.message == "more than 100000 values once aliases are expanded"


def test_alias_to_its_own_value(catalog: Path) -> None:
    problem = only(write(catalog, "code: &loop [1, *loop]\n"))
    assert "alias refers to its own value" in problem.message
    assert problem.line == 1


def test_anchors_merges_and_yaml_12_words(catalog: Path) -> None:
    text = edit(FULL, "escalation: {remind_at: [0.5], escalate_to: head}", "escalation: *escalates")
    text = edit(
        text,
        "    share: 0.5\n",
        "    share: 0.5\n    escalation: &escalates {remind_at: [0.5], escalate_to: head}\n",
    )
    text = edit(text, "{ok: review, refuse: refused}", "{yes: review, no: refused}")
    frozen = load_procedure(write(catalog, text))
    steps = frozen.procedure.steps
    assert steps["review"].escalation == steps["receive"].escalation  # type: ignore[union-attr]
    assert list(steps["police_check"].decisions) == ["yes", "no"]  # type: ignore[union-attr]


def test_not_finite_number(catalog: Path) -> None:
    text = edit(FULL, "share: 1.5", "share: .inf")
    problem = only(write(catalog, text))
    assert problem.message == "`.inf` is not a finite number"
    assert (problem.line, problem.column) == at(text, ".inf")


def test_missing_template(catalog: Path) -> None:
    """A name found neither beside the file nor among motcua's own forms is an error."""
    path = catalog / "full.yaml"
    path.write_text(FULL.replace("../forms/refusal.html.j2", "../forms/tu_choi.html.j2"), "utf-8")
    problem = only(path)
    assert problem.message == "forms.refusal.template: no file `../forms/tu_choi.html.j2`"
    assert (problem.line, problem.column) == at(FULL, "../forms/refusal.html.j2")


def test_a_template_missing_beside_the_file_is_motcuas_own(catalog: Path) -> None:
    (catalog.parent / "forms" / "refusal.html.j2").unlink()
    own = (Path(__file__).parents[1] / "procedures" / "forms" / "refusal.html.j2").read_text()
    assert load_procedure(catalog / "full.yaml").procedure.forms["refusal"].source == own


def test_template_syntax_error_points_into_the_template(catalog: Path) -> None:
    template = catalog.parent / "forms" / "result.html.j2"
    template.write_text("<p>ok</p>\n<p>{% if dossier.code %}</p>\n", "utf-8")
    found = problems(catalog / "full.yaml")
    assert {(p.file, p.line) for p in found} == {(str(template), 2)}
    assert found[0].message.startswith("template syntax error: Unexpected end of template")


def test_source_is_for_the_loader_only(catalog: Path) -> None:
    text = edit(FULL, 'title: "Kết quả",', 'title: "Kết quả", source: "<p/>",')
    problem = only(write(catalog, text))
    assert problem.message == "forms.result.source is filled in by the loader"
    assert (problem.line, problem.column) == at(text, "source:")


def test_unknown_subprocedure(catalog: Path) -> None:
    text = edit(FULL, 'procedure: "9.000002"', 'procedure: "9.000003"')
    problem = only(write(catalog, text))
    assert problem.message == "steps.child.procedure: unknown procedure `9.000003`"
    assert (problem.line, problem.column) == at(text, '"9.000003"')


def test_subprocedure_cycle(catalog: Path) -> None:
    sub = edit(SUB, "decisions: {approve: approved", "decisions: {approve: again")
    sub = edit(sub, "share: 2", "share: 1")
    sub = edit(
        sub,
        "  approved: {kind",
        '  again:\n    kind: subprocedure\n    procedure: "9.000001"\n    agency: police\n'
        "    share: 0.1\n    results: {approved: approved}\n  approved: {kind",
    )
    write(catalog, sub, "sub.yaml")
    found = problems(catalog / "full.yaml")
    cycle = [p for p in found if "sub-procedure cycle" in p.message]
    assert [(p.file, p.message) for p in cycle] == [
        (
            str(catalog / "sub.yaml"),
            "steps.again.procedure: sub-procedure cycle 9.000001 → 9.000002 → 9.000001",
        )
    ]
    assert any(p.message.endswith("has problems") and p.file.endswith("full.yaml") for p in found)


def test_subprocedures_looked_up_in_catalog_dir(catalog: Path, tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(catalog / "full.yaml", alone / "full.yaml")
    (catalog / "full.yaml").unlink()
    found = problems(alone / "full.yaml")
    assert any("unknown procedure `9.000002`" in p.message for p in found)
    frozen = load_procedure(alone / "full.yaml", catalog_dir=catalog)
    assert "9.000002" in frozen.subprocedures


def test_all_problems_of_a_file_together(catalog: Path) -> None:
    text = edit(
        FULL, "    agency: police\n    role: officer\n", "    agnecy: police\n    role: officer\n"
    )
    text = edit(text, "level: commune", "level: town")
    text = edit(text, "share: 1.5", "share: -1")
    found = problems(write(catalog, text))
    assert len(found) == 3
    assert [p.line for p in found] == sorted(p.line for p in found)


def test_catalog_keyed_by_code_and_reports_every_file(catalog: Path) -> None:
    assert sorted(load_catalog(catalog)) == ["9.000001", "9.000002"]
    write(catalog, edit(SUB, 'name: "Thủ tục con"', "name: [1]"), "bad.yaml")
    write(catalog, edit(SUB, 'code: "9.000002"', 'code: "9.000004"'), "good.yaml")
    write(catalog, edit(FULL, "level: commune", "level: x"), "also-bad.yaml")
    with pytest.raises(ProcedureError) as info:
        load_catalog(catalog)
    files = {Path(p.file).name for p in info.value.problems}
    assert files == {"bad.yaml", "also-bad.yaml"}


def test_broken_subprocedure_in_a_catalog_is_not_called_unknown(catalog: Path) -> None:
    write(catalog, edit(SUB, "level: commune", "level: village"), "sub.yaml")
    with pytest.raises(ProcedureError) as info:
        load_catalog(catalog)
    messages = [(Path(p.file).name, p.message) for p in info.value.problems]
    assert ("sub.yaml", "level: `village` is not one of: province, commune, district") in messages
    assert any(
        name == "full.yaml" and "sub-procedure `9.000002`" in message and "has problems" in message
        for name, message in messages
    )
    assert not any("unknown procedure" in message for _, message in messages)


def test_duplicate_codes_in_a_catalog(catalog: Path) -> None:
    write(catalog, SUB, "twin.yaml")
    with pytest.raises(ProcedureError) as info:
        load_catalog(catalog)
    [problem] = info.value.problems
    assert problem.file == str(catalog / "twin.yaml")
    assert problem.message == f"code `9.000002` is also used by {catalog / 'sub.yaml'}"
    assert (problem.line, problem.column) == (1, 7)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    problem = only(tmp_path / "nope.yaml")
    assert problem.message.startswith("cannot read")
    with pytest.raises(ProcedureError):
        load_catalog(tmp_path / "nope")


def test_packaged_catalogue_validates_cleanly() -> None:
    catalog = load_catalog()
    assert len(catalog) >= 5
    for code, frozen in catalog.items():
        assert frozen.procedure.code == code
        assert Path(frozen.source).parent == DEFAULT_CATALOG
