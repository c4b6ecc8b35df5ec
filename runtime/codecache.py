"""Compiled module code kept in memory, for the modules the sandbox imports afresh every run.

The sandbox gives every workflow run (every replay too) fresh copies of the workflow modules:
it executes them again, which is what keeps one run's module state and restricted imports away
from the next. Executing them again needs their code, and Python's import system finds it on
disk again each time: a look-up of the source file, a read of its cached bytecode and an
unmarshal, for each of the interpreter's nine re-imported modules (about 1 ms of the 5 ms it
takes to create a sandboxed dossier instance). `keep_compiled_code` keeps each module's code
object after its first load: code objects are immutable, and each run still executes it into
a new module, so what a run sees is unchanged. What changes is only when the files are read:
once per process, so a process replays the code it started with even if the files change
under it (as its passed-through modules, imported once, already do).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder, SourceFileLoader
from types import CodeType, ModuleType
from typing import ClassVar


class _KeptCodeLoader(SourceFileLoader):
    """A source loader whose compiled code is read once per process, per file."""

    _codes: ClassVar[dict[str, CodeType]] = {}

    def get_code(self, fullname: str) -> CodeType:
        code = self._codes.get(self.path)
        if code is None:
            code = super().get_code(fullname)
            if code is None:  # a source loader always has code; this only satisfies the type
                raise ImportError(f"no code for {fullname}", name=fullname)
            self._codes[self.path] = code
        return code


class _KeptCodeFinder(MetaPathFinder):
    """Finds modules as the finders after it do, loading source modules with
    `_KeptCodeLoader` (an editable install's finder included)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        finders = sys.meta_path
        after = finders[finders.index(self) + 1 :] if self in finders else []
        for finder in after:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is None:
                continue
            if type(spec.loader) is SourceFileLoader:
                spec.loader = _KeptCodeLoader(spec.loader.name, spec.loader.path)
            return spec
        return None


_FINDER = _KeptCodeFinder()


def keep_compiled_code() -> None:
    """Keep compiled module code for the rest of the process (idempotent): the finder goes
    just before `PathFinder`, so built-in and frozen modules are found as before."""
    if _FINDER in sys.meta_path:
        return
    where = next((i for i, f in enumerate(sys.meta_path) if f is PathFinder), len(sys.meta_path))
    sys.meta_path.insert(where, _FINDER)
