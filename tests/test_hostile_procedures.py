"""Hostile procedure files: templates that reach out of the catalogue, expressions that reach
for Python's internals or for a gigabyte, loops nothing can stop (issue 15, items 4-6).

Validation refuses each with a location; what validation cannot see, the run time refuses
promptly (`procedures.templates` budgets, the interpreter's step-visit budget).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES, FULL, Setup, at, edit, serving, submit
from pydantic import TypeAdapter

from motcua import client as ops
from motcua.audit.history import fetch_runs
from motcua.audit.replay import replay
from procedures import templates
from procedures.errors import ProcedureError
from procedures.loader import content_hash, load_procedure
from procedures.models import FormKind, FrozenProcedure, ResultType, Step
from workflows.dossier import UNATTENDED_VISITS


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of the fixture catalogue (`full.yaml`, `sub.yaml`) with its form templates."""
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    return tmp_path / "catalog"


def problems(path: Path) -> list[tuple[str, int, int, str]]:
    with pytest.raises(ProcedureError) as caught:
        load_procedure(path)
    return [(p.file, p.line, p.column, p.message) for p in caught.value.problems]


RECEIPT = "../forms/receipt.html.j2"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../../../../../../../etc/passwd", "leads out of the catalogue"),
        ("/proc/self/environ", "is an absolute path"),
        ("/etc/passwd", "is an absolute path"),
        ("../../../", "leads out of the catalogue"),
    ],
)
def test_a_template_outside_the_catalogue_is_refused_where_it_is_named(
    catalog: Path, name: str, why: str
) -> None:
    path = catalog / "full.yaml"
    text = edit(FULL, (RECEIPT, name))
    path.write_text(text, "utf-8")
    found = problems(path)
    assert found == [
        (str(path), *at(text, name), f"forms.receipt.template: `{name}` {why}"),
    ]


def test_a_template_name_with_a_nul_is_refused_not_a_traceback(catalog: Path) -> None:
    path = catalog / "full.yaml"
    path.write_text(edit(FULL, (RECEIPT, '"receipt\\0.html.j2"')), "utf-8")
    [(_, _, _, message)] = problems(path)
    assert message.endswith("is not a file name (it holds a NUL character)")


def test_a_symbolic_link_out_of_the_catalogue_is_refused(catalog: Path) -> None:
    os.symlink("/etc/passwd", catalog.parent / "forms" / "passwd.html.j2")
    path = catalog / "full.yaml"
    text = edit(FULL, (RECEIPT, "../forms/passwd.html.j2"))
    path.write_text(text, "utf-8")
    [(_, line, column, message)] = problems(path)
    assert (line, column) == at(text, "../forms/passwd.html.j2")
    assert message.endswith("is a symbolic link leading out of the catalogue")


def test_templates_beside_the_file_or_in_the_forms_folder_still_load(catalog: Path) -> None:
    shutil.copy(catalog.parent / "forms" / "receipt.html.j2", catalog / "receipt.html.j2")
    path = catalog / "full.yaml"
    path.write_text(edit(FULL, (RECEIPT, "receipt.html.j2")), "utf-8")
    assert load_procedure(path).procedure.forms[FormKind.RECEIPT].source


@pytest.mark.parametrize(
    ("tag", "word"),
    [
        ("{% include '/etc/passwd' %}", "include"),
        ("{% import 'x.html' as x %}", "import"),
        ("{% from 'x.html' import y %}", "from"),
        ("{% extends '/etc/passwd' %}", "extends"),
    ],
)
def test_a_form_loading_another_template_is_refused_at_its_line_and_column(
    catalog: Path, tag: str, word: str
) -> None:
    form = catalog.parent / "forms" / "receipt.html.j2"
    form.write_text(f"<p>Giấy tiếp nhận</p>\n<p>\n  {tag}\n</p>\n", "utf-8")
    [found] = problems(catalog / "full.yaml")
    assert found[:3] == (str(form), 3, 3)
    assert found[3] == f"`{{% {word} %}}` is not allowed: a template stands alone"


def test_loading_a_template_is_refused_at_run_time_too() -> None:
    """Defence in depth: a procedure that never met validation cannot read a file either."""
    for source in ("{% include '/etc/passwd' %}", "{% extends '/etc/passwd' %}"):
        with pytest.raises(Exception, match="may not load other templates"):
            templates.render_form(source, {})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("''.__class__.__mro__", "attribute `__mro__` is not allowed"),
        ("cycler.__init__.__globals__", "attribute `__globals__` is not allowed"),
        ("lipsum.__globals__", "attribute `__globals__` is not allowed"),
        ("form['_private'] == 1", "attribute `_private` is not allowed"),
        ("joiner() == 1", "expression reads unknown name `joiner`"),
        ("'A' * 100000000 == form.name", "`*` makes a value over the budget"),
        ("range(100000)|length > 1", "range() over 10000 items"),
        ("9 ** 999999 > form.age", "`**` makes a value over the budget"),
    ],
)
def test_unsafe_or_expensive_expressions_fail_validation_where_they_are(
    catalog: Path, expression: str, message: str
) -> None:
    path = catalog / "full.yaml"
    text = edit(FULL, ('if: "form.age < 6"', f'if: "{expression}"'))
    path.write_text(text, "utf-8")
    [(_, line, column, found)] = problems(path)
    assert (line, column) == at(text, f'"{expression}"')
    assert found.startswith("steps.route.when[0].if: ")
    assert message in found


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{% for i in range(9) %}{% for j in range(9) %}{% for k in range(9) %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            "nested more than 2 deep",
        ),
        ("{{ 'x'|center(1000000000) }}", "`center` size 1000000000"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "no recursion"),
        ("{{ lipsum(100000) }}", "`lipsum` is not available"),
        ("{{ ''.__class__ }}", "attribute `__class__` is not allowed"),
    ],
)
def test_unsafe_or_expensive_forms_fail_validation(
    catalog: Path, source: str, message: str
) -> None:
    form = catalog.parent / "forms" / "result.html.j2"
    form.write_text(f"<p>\n{source}\n</p>\n", "utf-8")
    [found] = problems(catalog / "full.yaml")
    assert found[:3] == (str(form), 2, 1)
    assert message in found[3]


def test_data_that_looks_like_a_format_is_only_data() -> None:
    text = "Giảm 50% {1234567} còn lại"
    assert templates.render_string("{{ x|replace('a', 'b') }} {{ '%s' % x }}", x=text) == (
        f"{text.replace('a', 'b')} {text}"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(n) %}{% for j in range(n) %}{% for k in range(n) %}x"
        "{% endfor %}{% endfor %}{% endfor %}",
        "{{ 'A' * n }}",
        "{{ 'x'|center(n) }}",
        "{{ ('{:>' ~ n ~ '}').format(1) }}",
        "{{ ('%' ~ n ~ 'd') % 1 }}",
        "{{ ('%' ~ n ~ 'd')|format(1) }}",
        "{% for i in range(9999) %}{{ 'A' * 1000 }}{% endfor %}",
        # Results far larger than their inputs, measured before they are built (these asked
        # for 10 GB and a minute before: `n` is the data, the strings stay within budget)
        "{{ ('x' * 100000)|join('y' * 100000) }}",
        "{{ ('y' * 100000).join('x' * 100000) }}",
        "{{ ('y' * 199999).join(range(9999)|map('string')) }}",
        "{{ ('x' * 100000).replace('', 'y' * 100000) }}",
        "{{ ('x' * 100000)|replace('x', 'y' * 100000) }}",
        "{{ '{0:{1}}'.format(1, n) }}",
        "{{ '%*d' % (n, 1) }}",
        "{{ 'x'.ljust(n) }}{{ 'x'.zfill(n) }}",
        "{{ ('\t' * 100000).expandtabs(n) }}",
    ],
)
def test_what_validation_cannot_see_fails_promptly_at_run_time(source: str) -> None:
    """Sizes that come from data: refused in well under a second, never a hang or 1 GB."""
    started = time.monotonic()
    try:
        rendered = templates.render_string(source, n=100_000_000)
    except templates.Refused:
        rendered = None
    assert time.monotonic() - started < 1
    assert rendered is None or len(rendered) <= templates.MAX_OUTPUT


def test_a_loop_nothing_can_stop_fails_validation_where_it_starts(catalog: Path) -> None:
    path = catalog / "full.yaml"
    tell = "  tell: {kind: auto, activity: notify_applicant, args: {subject: s}, next: route}\n"
    text = edit(
        FULL,
        ('if: "form.age < 6"', 'if: "false"'),
        ("    otherwise: review\n", "    otherwise: tell\n" + tell),
    )
    path.write_text(text, "utf-8")
    [(_, line, column, message)] = problems(path)
    assert (line, column) == at(text, "route:\n")
    assert message == (
        "steps.route: loop nothing can stop: route → tell → route has no human task, wait or "
        "sub-procedure, so a dossier would go round it without end"
    )


def hostile(s: Setup, start: str, steps: dict[str, Any]) -> FrozenProcedure:
    """A procedure that skipped validation (as a raw `temporal workflow start` may send one)."""
    procedure = s.normal.procedure.model_copy(
        update={
            "start": start,
            "steps": {
                **s.normal.procedure.steps,
                **TypeAdapter(dict[str, Step]).validate_python(steps),
            },
        }
    )
    # Its true content hash: test workers run drafts, so only the published check of a real
    # worker (interpreter 5, tests/test_trust.py) would stop it first; a made-up hash would.
    return FrozenProcedure.model_construct(
        procedure=procedure,
        content_hash=content_hash(procedure, {}),
        source="hostile.yaml",
        subprocedures={},
    )


async def test_a_runaway_dossier_ends_stopped_with_where_it_looped(
    dev_env: Any, tmp_path: Path
) -> None:
    async with serving(dev_env.client, tmp_path) as s:
        loop = hostile(
            s,
            "route",
            {
                "route": {
                    "kind": "choice",
                    "when": [{"if": "false", "then": "refused"}],
                    "otherwise": "tell",
                },
                "tell": {
                    "kind": "auto",
                    "activity": "notify_applicant",
                    "args": {"subject": "s", "body": "b"},
                    "next": "route",
                },
            },
        )
        greedy = hostile(
            s,
            "route",
            {
                "route": {
                    "kind": "choice",
                    "when": [{"if": "form.x * 100000000 == 'A'", "then": "refused"}],
                    "otherwise": "receive",
                },
            },
        )
        wordy = hostile(
            s,
            "tell",
            {
                "tell": {
                    "kind": "auto",
                    "activity": "notify_applicant",
                    "args": {"subject": "s", "body": "{{ form.x * 100000000 }}"},
                    "next": "receive",
                },
            },
        )
        started = time.monotonic()
        looping = await submit(s, loop)
        expensive = await submit(s, greedy, form={"x": "A"})
        writing = await submit(s, wordy, form={"x": "A"})
        dossiers = (looping, expensive, writing)
        outcomes = [
            await asyncio.wait_for(s.client.get_workflow_handle(d.code).result(), 60)
            for d in dossiers
        ]
        assert time.monotonic() - started < 60
        assert [o["result"] for o in outcomes] == [ResultType.STOPPED] * 3
        ends = [
            next(e.detail for e in (await ops.show(s.client, d.code)).timeline if e.kind == "ended")
            for d in dossiers
        ]
        budget = UNATTENDED_VISITS + 2 * len(loop.procedure.steps)
        assert ends[0] == (
            f"stopped: steps.route: {budget} steps in a row with no human task or wait; "
            "the procedure loops without end"
        )
        assert ends[1].startswith("stopped: steps.route.when[0].if: repetition of 100000000")
        assert ends[2].startswith("stopped: steps.tell.args.body: repetition of 100000000")
        notices = (await ops.show(s.client, looping.code)).timeline
        assert sum(1 for e in notices if e.kind == "automatic") <= budget // 2 + 1
        runs = [run for d in dossiers for run in await fetch_runs(s.client, d.code)]
        assert [o.line() for o in await replay(runs) if not o.ok] == []


def test_max_length_is_only_for_string_fields(catalog: Path) -> None:
    path = catalog / "full.yaml"
    text = edit(FULL, ("steps:\n", "application:\n  age: {type: integer, max_length: 3}\nsteps:\n"))
    path.write_text(text, "utf-8")
    found = [p for p in problems(path) if "max_length" in p[3]]
    assert [p[3] for p in found] == [
        "application.age.max_length: only a `string` field has `max_length`; this one is `integer`"
    ]


LONG_NAMES = [
    ('name: "Công an xã A"', "Công an xã " * 20, "agencies.police.name", 200),
    ('code: "000.00.09.H26"', "0" * 65, "agencies.police.code", 64),
    ("task_queue: police", "q" * 201, "agencies.police.task_queue", 200),
    ('title: "Kết quả"', "Kết quả " * 70, "forms.result.title", 500),
    ('sector: "Thử nghiệm"', "Thử nghiệm " * 20, "sector", 200),
    ('version: "1"', "1" * 65, "version", 64),
    ('["Nghị định 1/2025/NĐ-CP"]', "Nghị định " * 60, "legal_basis[0]", 500),
]


@pytest.mark.parametrize(("old", "value", "where", "limit"), LONG_NAMES)
def test_every_name_of_the_catalogue_has_a_size_limit_said_where_it_is(
    catalog: Path, old: str, value: str, where: str, limit: int
) -> None:
    """An agency name is printed on forms and signs PDFs: one too long is refused by validate,
    on its line, not when the first receipt is signed."""
    quoted = f'"{value}"'
    new = f"[{quoted}]" if old.startswith("[") else f"{old.split(':')[0]}: {quoted}"
    path = catalog / "full.yaml"
    text = edit(FULL, (old, new))
    path.write_text(text, "utf-8")
    found = problems(path)
    assert len(found) == 1, found
    [(file, line, _, message)] = found
    assert (file, line) == (str(path), at(text, value)[0])
    assert message == f"{where}: longer than {limit} characters"
