"""Loading procedure files into frozen, fully checked procedures that can travel in a workflow.

`load_procedure` reads one YAML file, validates it against `procedures.models`, runs the
semantic checks of `procedures.checks`, reads its form templates and freezes the procedures
its sub-procedure steps hand over to; `load_catalog` does the same for a folder. Whatever is
wrong is reported as located problems, all of them, in one `ProcedureError`.

`content_hash` is a full SHA-256 (64 hex digits) over the procedure's canonical JSON (by
alias), its template texts and its sub-procedures' hashes (see `content_hash`), so any change
to the file, a template or a sub-procedure names a new version, while moving the file does
not.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from procedures import checks, templates
from procedures.errors import Problem, ProcedureError
from procedures.messages import problems_of
from procedures.models import FrozenProcedure, Procedure, SubprocedureStep
from procedures.text import MAX_PROCEDURE_FILE
from procedures.yamlnodes import Locator, compose, position, to_data

DEFAULT_CATALOG = Path(__file__).parent / "catalog"
"""The packaged catalogue of procedures."""

_CODE_LINE = re.compile(r"^code:[ \t]*[\"']?([^\"'\s#]+)", re.MULTILINE)

_templates: dict[tuple[str, int, int], tuple[str, Problem | None]] = {}
"""Template text and its problem by (path, mtime, size): a catalogue shares its templates."""


def load_procedure(path: Path, *, catalog_dir: Path | None = None) -> FrozenProcedure:
    """One procedure file, checked and frozen with its sub-procedures (found in `catalog_dir`,
    by default the file's own folder); raises `ProcedureError` with every problem found."""
    return _Session(catalog_dir or path.parent).freeze(path, ())


def load_catalog(folder: Path = DEFAULT_CATALOG) -> dict[str, FrozenProcedure]:
    """Every `*.yaml`/`*.yml` file of a folder, keyed by procedure code; raises
    `ProcedureError` with the problems of all files if any has one."""
    if not folder.is_dir():
        raise ProcedureError([Problem(str(folder), 1, 1, "not a folder")])
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    with _without_gc():
        return _Session(folder).freeze_all(paths)


@contextlib.contextmanager
def _without_gc() -> Iterator[None]:
    """The cycle collector paused while a catalogue is built: the catalogue's many live
    objects made its full collections cost as much as the loading itself, and loading makes
    no reference cycles worth collecting early."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_text(path: Path) -> str:
    """A file's UTF-8 text; unreadable, too large (`MAX_PROCEDURE_FILE`, checked before
    reading) or non-UTF-8 files become located problems."""
    try:
        size = path.stat().st_size
        if size <= MAX_PROCEDURE_FILE:  # read no more than allowed: /dev/zero says size 0
            with open(path, "rb") as fh:
                data = fh.read(MAX_PROCEDURE_FILE + 1)
            size = max(size, len(data))
        if size > MAX_PROCEDURE_FILE:
            message = f"file of {size} bytes, more than the {MAX_PROCEDURE_FILE} allowed"
            if size == MAX_PROCEDURE_FILE + 1:
                message = f"file of more than the {MAX_PROCEDURE_FILE} bytes allowed"
            raise ProcedureError([Problem(str(path), 1, 1, message)])
    except OSError as err:
        raise ProcedureError([Problem(str(path), 1, 1, f"cannot read: {err.strerror}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line, column = position(data, err.start)
        message = f"not UTF-8: byte 0x{data[err.start]:02x} cannot be decoded"
        raise ProcedureError(
            [Problem(str(path), line, column, message, "save the file as UTF-8")]
        ) from None


def parse_procedure(path: Path) -> tuple[Procedure, Locator]:
    """A procedure file validated and checked on its own, templates read, sub-procedures not
    yet resolved; with the locator that places later problems in it."""
    file = str(path)
    text = read_text(path)
    root = compose(text, file)
    data, problems = to_data(root, file)
    locator = Locator(file, text, root)
    problems += _read_templates(data, os.path.dirname(file), locator)
    try:
        procedure = Procedure.model_validate(data)
    except ValidationError as err:
        # a value the YAML reading already refused (None in its place) is not reported twice
        seen = {(problem.line, problem.column) for problem in problems}
        problems += [p for p in problems_of(err, locator) if (p.line, p.column) not in seen]
        raise ProcedureError(problems) from None
    problems += checks.check(procedure, locator)
    if problems:
        raise ProcedureError(problems)
    return procedure, locator.detached()


def _read_templates(data: Any, folder: str, locator: Locator) -> list[Problem]:
    """Each form's template text put in its `source` before validation, which then checks
    the whole, so no validated model has to be copied to add them."""
    forms = data.get("forms") if isinstance(data, dict) else None
    if not isinstance(forms, dict):
        return []
    problems = []
    for kind, form in forms.items():
        if not isinstance(form, dict):
            continue
        if "source" in form:
            problems.append(
                locator.problem(
                    ("forms", kind, "source"),
                    f"forms.{kind}.source is filled in by the loader",
                    "remove it; write the file name in `template`",
                    key=True,
                )
            )
        name = form.get("template")
        if not isinstance(name, str):
            continue
        outside = _outside(folder, name)
        if outside is not None:
            problems.append(
                locator.problem(
                    ("forms", kind, "template"),
                    f"forms.{kind}.template: `{name}` {outside}",
                    "keep templates in the catalogue (beside the YAML file or in its `forms` "
                    "folder), named by a relative path",
                )
            )
            continue
        source, problem = _template(folder, name)
        if source is None:
            source, problem = _own_template(name)
        if source is None:
            problems.append(
                locator.problem(
                    ("forms", kind, "template"),
                    f"forms.{kind}.template: no file `{name}`",
                    "the path is relative to this YAML file; motcua's own forms are "
                    + ", ".join(f"`../forms/{own}`" for own in own_form_names()),
                )
            )
        elif problem is not None:
            problems.append(problem)
        form["source"] = source
    return problems


TEMPLATE_ROOTS: tuple[str, ...] = (os.path.realpath(Path(__file__).parent / "forms"),)
"""Folders whose templates any procedure may use besides its catalogue's: motcua's own forms."""


def own_form_names() -> list[str]:
    """The file names of motcua's own form templates, for hints."""
    return sorted(
        entry.name
        for root in TEMPLATE_ROOTS
        for entry in os.scandir(root)
        if entry.is_file() and entry.name.endswith(".j2")
    )


def _own_template(name: str) -> tuple[str | None, Problem | None]:
    """motcua's own template of that file name, for a procedure outside the packaged
    catalogue that names one the way the catalogue does (`../forms/receipt.html.j2`), so
    that the minimal example runs from any folder; None when motcua has no such form."""
    base = os.path.basename(name)
    for root in TEMPLATE_ROOTS:
        source, problem = _template(root, base)
        if source is not None:
            return source, problem
    return None, None


def _outside(folder: str, name: str) -> str | None:
    """Why a template name leads out of the catalogue, or None when it stays in.

    A procedure's templates live beside its file or in the `forms` folder next to its
    catalogue folder (or are motcua's own, `TEMPLATE_ROOTS`); an absolute path, a `..` that
    climbs out, or a symbolic link pointing elsewhere would let a procedure file publish any
    file the worker can read (`/etc/passwd`, `/proc/self/environ`) in a citizen's document.
    """
    if "\0" in name:
        return "is not a file name (it holds a NUL character)"
    if os.path.isabs(name) or name.startswith("~"):
        return "is an absolute path"
    real = os.path.realpath(os.path.join(folder, name))
    here = os.path.realpath(folder)
    roots = (here, os.path.join(os.path.dirname(here), "forms"), *TEMPLATE_ROOTS)
    if any(os.path.commonpath([real, root]) == root for root in roots):
        return None
    if os.path.normpath(os.path.join(here, name)) != real:
        return "is a symbolic link leading out of the catalogue"
    return "leads out of the catalogue"


def _template(folder: str, name: str) -> tuple[str | None, Problem | None]:
    """A template's text, or None when missing, and its syntax problem if any (cached)."""
    path = os.path.normpath(os.path.join(folder, name))
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return None, None
        key = (path, status.st_mtime_ns, status.st_size)
        if key not in _templates:
            _templates[key] = _compile_template(Path(path))
    except ProcedureError as err:
        return "", err.problems[0]
    except OSError:
        return None, None
    return _templates[key]


def _compile_template(path: Path) -> tuple[str, Problem | None]:
    source = read_text(path)
    found = templates.form_problem(source)
    if found is None:
        return source, None
    lines = source.splitlines() or [""]
    line = min(max(found[0], 1), len(lines))
    return source, Problem(str(path), line, _column(lines[line - 1]), found[1])


def _column(text: str) -> int:
    """Where on its line a template's problem starts: its tag or expression, else 1."""
    found = [i for i in (text.find("{%"), text.find("{{")) if i >= 0]
    return min(found) + 1 if found else 1


def content_hash(procedure: Procedure, subprocedures: dict[str, FrozenProcedure]) -> str:
    """SHA-256 naming a procedure's version: its canonical JSON, its templates, its
    sub-procedures.

    Canonical is pydantic's JSON of the model by alias, fields in the models' order and
    mappings in the file's order (the order of decisions is meaningful: it is the order of
    the officer's buttons). Template texts enter through their own SHA-256, computed once
    for the many procedures sharing a template, and sub-procedures through their hashes.
    An empty `application` is left out, so that files written before the key existed keep
    the hash their running dossiers carry.
    """
    exclude = _SOURCES if procedure.application else {**_SOURCES, "application": True}
    digest = hashlib.sha256(
        procedure.__pydantic_serializer__.to_json(procedure, by_alias=True, exclude=exclude)
    )
    for kind, form in procedure.forms.items():
        digest.update(f"\nform {kind}={_text_digest(form.source or '')}".encode())
    for code in sorted(subprocedures):
        digest.update(f"\nsubprocedure {code}={subprocedures[code].content_hash}".encode())
    return digest.hexdigest()


_SOURCES: dict[str, Any] = {"forms": {"__all__": {"source"}}}


@functools.lru_cache(maxsize=1024)
def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _skim_code(path: Path) -> str | None:
    """The code on a file's top-level `code:` line, without parsing the file."""
    try:
        match = _CODE_LINE.search(path.read_text("utf-8", errors="replace"))
    except OSError:
        return None
    return match.group(1) if match else None


class _Session:
    """One loading run: parses each file once and resolves sub-procedures by code."""

    def __init__(self, catalog_dir: Path) -> None:
        self.catalog_dir = catalog_dir
        self.parsed: dict[str, tuple[Procedure, Locator] | ProcedureError] = {}
        self.frozen: dict[str, FrozenProcedure | ProcedureError] = {}
        self.codes: dict[str, Path] | None = None

    def parse(self, path: Path) -> tuple[Procedure, Locator]:
        key = os.path.abspath(path)
        if key not in self.parsed:
            try:
                self.parsed[key] = parse_procedure(path)
            except ProcedureError as err:
                self.parsed[key] = err
        found = self.parsed[key]
        if isinstance(found, ProcedureError):
            raise found
        return found

    def path_of(self, code: str) -> Path | None:
        """The catalogue file with this code; files are only skimmed for their `code:` line,
        and fully parsed only when they have none."""
        if self.codes is None:
            self.codes = {}
            for path in sorted(self.catalog_dir.glob("*.y*ml")):
                skimmed = _skim_code(path)
                if skimmed is not None:
                    self.codes.setdefault(skimmed, path)
                    continue
                try:
                    self.codes.setdefault(self.parse(path)[0].code, path)
                except ProcedureError:
                    continue
        return self.codes.get(code)

    def freeze_all(self, paths: list[Path]) -> dict[str, FrozenProcedure]:
        """Every file frozen, keyed by code; one error with all files' problems otherwise."""
        problems: list[Problem] = []
        broken: list[Path] = []
        self.codes = {}
        for path in paths:
            try:
                procedure, locator = self.parse(path)
            except ProcedureError as err:
                problems += err.problems
                broken.append(path)
                continue
            other = self.codes.setdefault(procedure.code, path)
            if other != path:
                problems.append(
                    locator.problem(("code",), f"code `{procedure.code}` is also used by {other}")
                )
        for path in broken:  # so that their callers learn they are broken, not unknown
            skimmed = _skim_code(path)
            if skimmed is not None:
                self.codes.setdefault(skimmed, path)
        catalog: dict[str, FrozenProcedure] = {}
        for code, path in self.codes.items():
            try:
                catalog[code] = self.freeze(path, ())
            except ProcedureError as err:
                problems += err.problems
        if problems:
            raise ProcedureError(problems)
        return catalog

    def freeze(self, path: Path, calling: tuple[str, ...]) -> FrozenProcedure:
        """A file frozen with its sub-procedures; `calling` holds the codes that lead here."""
        key = os.path.abspath(path)
        done = self.frozen.get(key)
        if done is None:
            try:
                done = self._freeze(path, calling)
            except ProcedureError as err:
                done = err
            self.frozen[key] = done
        if isinstance(done, ProcedureError):
            raise done
        return done

    def _freeze(self, path: Path, calling: tuple[str, ...]) -> FrozenProcedure:
        procedure, locator = self.parse(path)
        chain = (*calling, procedure.code)
        problems: list[Problem] = []
        subprocedures: dict[str, FrozenProcedure] = {}
        for name, step in procedure.steps.items():
            if not isinstance(step, SubprocedureStep) or step.procedure in subprocedures:
                continue
            where = ("steps", name, "procedure")
            target = self.path_of(step.procedure)
            if target is None:
                problems.append(
                    locator.problem(
                        where,
                        f"steps.{name}.procedure: unknown procedure `{step.procedure}`",
                        f'no file in {self.catalog_dir} has `code: "{step.procedure}"`',
                    )
                )
            elif step.procedure in chain:
                cycle = " → ".join([*chain[chain.index(step.procedure) :], step.procedure])
                problems.append(
                    locator.problem(where, f"steps.{name}.procedure: sub-procedure cycle {cycle}")
                )
            else:
                try:
                    subprocedures[step.procedure] = self.freeze(target, chain)
                except ProcedureError as err:
                    problems += err.problems
                    problems.append(
                        locator.problem(
                            where,
                            f"steps.{name}.procedure: sub-procedure `{step.procedure}` "
                            f"({target}) has problems",
                        )
                    )
        if problems:
            raise ProcedureError(problems)
        return FrozenProcedure.model_construct(  # all validated already
            procedure=procedure,
            content_hash=content_hash(procedure, subprocedures),
            source=str(path),
            subprocedures=subprocedures,
        )
