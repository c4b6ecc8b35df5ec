"""A compact encoding of a dossier's input: its form templates travel compressed.

A dossier's input freezes the whole procedure, and about 85% of it is the text of the legal
forms' templates (seven forms, ~34 KB of HTML for 1.001193), which the history would store
verbatim in every dossier. In JSON (what the data converter writes) `pack` moves every
template text of the procedure and of its sub-procedures into one field, `packed_forms`:
UTF-8 JSON of {path: text}, zlib-compressed, base85 (no quote or backslash, so it stays one
JSON string). `unpack` puts them back before validation. The texts are restored byte for byte,
so the freeze (content hashes, rendered documents) and replay are untouched, and inputs
written before (texts in place, no `packed_forms`) read as they always did.
"""

from __future__ import annotations

import base64
import functools
import json
import zlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

FIELD = "packed_forms"
LEVEL = 9
MAX_UNPACKED = 16 * 1024 * 1024
"""Refuse to inflate past this: a packed field is input, and input has limits."""


def _forms(frozen: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, form) of a frozen procedure's forms and, recursively, its sub-procedures'."""
    forms = frozen.get("procedure", {}).get("forms", {}) or {}
    for kind, form in forms.items():
        if isinstance(form, dict):
            yield f"{prefix}{kind}", form
    for code, sub in (frozen.get("subprocedures") or {}).items():
        if isinstance(sub, dict):
            yield from _forms(sub, f"{prefix}{code}/")


def pack(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON form of an input, its template texts moved into `packed_forms`."""
    frozen = data.get("procedure")
    if not isinstance(frozen, dict):
        return data
    texts: dict[str, str] = {}
    for path, form in _forms(frozen):
        if isinstance(form.get("source"), str):
            texts[path] = form["source"]
            form["source"] = None
    if texts:
        blob = zlib.compress(json.dumps(texts, ensure_ascii=False).encode(), LEVEL)
        data[FIELD] = base64.b85encode(blob).decode("ascii")
    return data


def unpack(data: Any) -> Any:
    """An input as `pack` wrote it (or as written before packing), texts back in place."""
    if not isinstance(data, dict) or FIELD not in data:
        return data
    data = dict(data)
    texts = _texts(data.pop(FIELD))
    data["procedure"] = _restored(data["procedure"], texts)
    return data


@functools.lru_cache(maxsize=64)
def _texts(packed: str) -> Mapping[str, str]:
    """The template texts of a packed field, read-only. Remembered: every dossier of a procedure
    version carries the same field, and every run of a workflow (each replay too) decodes its
    input again (base85 and inflating: 1.5 ms of a replay under cProfile, bench/replay.py)."""
    inflater = zlib.decompressobj()
    raw = inflater.decompress(base64.b85decode(packed), MAX_UNPACKED)
    if inflater.unconsumed_tail:
        raise ValueError(f"{FIELD}: more than {MAX_UNPACKED} bytes of templates")
    return MappingProxyType(json.loads(raw))


def _restored(frozen: dict[str, Any], texts: Mapping[str, str], prefix: str = "") -> dict[str, Any]:
    """`frozen` with the texts of its forms and its sub-procedures' (as `_forms` walks them) put
    back. Only the dicts on the way to a form are copied, the caller's data is left as it is:
    every run and every replay unpacks its input, and copying the whole procedure cost more
    than the rest of `unpack` (bench/replay.py --compare)."""
    procedure = frozen.get("procedure", {})
    forms = procedure.get("forms", {}) or {}
    subs = frozen.get("subprocedures") or {}
    frozen = dict(frozen)
    if forms:
        restored = {}
        for kind, form in forms.items():
            path = f"{prefix}{kind}"
            if isinstance(form, dict) and path in texts:
                form = {**form, "source": texts[path]}
            restored[kind] = form
        frozen["procedure"] = {**procedure, "forms": restored}
    if subs:
        frozen["subprocedures"] = {
            code: _restored(sub, texts, f"{prefix}{code}/") if isinstance(sub, dict) else sub
            for code, sub in subs.items()
        }
    return frozen
