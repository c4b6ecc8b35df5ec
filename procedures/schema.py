"""The JSON Schema of the procedure language, for completion and hover docs in editors.

Generated from `procedures.models` (by alias, with the models' titles and descriptions) so it
can never drift from what the loader accepts. Two adjustments make it read better in
yaml-language-server: mappings keyed by names state the name pattern as `propertyNames`
instead of pydantic's `patternProperties` (which would let a misspelt key through silently),
and `Form.source`, which the loader fills in and rejects from authors, is left out.

Wire it into VS Code with a first line `# yaml-language-server: $schema=<path or URL>` in a
procedure file, or with `yaml.schemas` in the editor settings (see README).
"""

from __future__ import annotations

import json
from typing import Any

from procedures.models import Procedure

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:motcua:schema:procedure:1"
"""Stable identifier of the language's schema; bump the last number on breaking changes."""


def procedure_schema() -> dict[str, Any]:
    """The JSON Schema of a procedure file."""
    schema = Procedure.model_json_schema(by_alias=True, mode="validation")
    _name_keyed(schema)
    schema["$defs"]["Form"]["properties"].pop("source", None)
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema}


def schema_json() -> str:
    """The schema as indented JSON text, ending with a newline."""
    return json.dumps(procedure_schema(), ensure_ascii=False, indent=2) + "\n"


def _name_keyed(node: Any) -> None:
    """`{patternProperties: {P: S}}` as `{propertyNames: {pattern: P}, additionalProperties: S}`."""
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1:
            [(pattern, value)] = patterns.items()
            del node["patternProperties"]
            node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
            node["additionalProperties"] = value
        for value in node.values():
            _name_keyed(value)
    elif isinstance(node, list):
        for value in node:
            _name_keyed(value)
