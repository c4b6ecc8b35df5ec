"""Who is acting: the pluggable mapping from a caller to an agency and a role.

On the embedded default the `--as USER@AGENCY/ROLE` option is trusted input (`trusted`). A
deployment plugs in its own resolver (single sign-on, a directory of officers...) with
`MOTCUA_IDENTITY=module:function`, a function from the caller's text to an `Actor`.

The resolver only says who the caller claims to be; it grants nothing. The dossier workflow's
update validators check the actor's agency and role against the task, so no client, whatever
resolver it uses (or Temporal's own CLI), can complete another agency's task.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

from runtime.errors import UserError
from workflows.api import Actor

IdentityResolver = Callable[[str], Actor]
"""Maps the caller's `--as` text (or a front end's session subject) to an `Actor`."""

ENV_VAR = "MOTCUA_IDENTITY"


def trusted(text: str) -> Actor:
    """Take `user@AGENCY/ROLE` at its word: right for the embedded default on one machine."""
    return Actor.parse(text)


def resolver() -> IdentityResolver:
    """The resolver named by `MOTCUA_IDENTITY` (`module:function`), else `trusted`."""
    spec = os.environ.get(ENV_VAR, "").strip()
    if not spec:
        return trusted
    module_name, sep, name = spec.partition(":")
    if not (sep and module_name and name):
        raise UserError(f"{ENV_VAR} must be module:function, got {spec!r}", exit_code=2)
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise UserError(f"{ENV_VAR}={spec}: {err}", exit_code=2) from None
    if not callable(found):
        raise UserError(f"{ENV_VAR}={spec} is not a function", exit_code=2)
    resolve: IdentityResolver = found
    return resolve


def resolve(text: str) -> Actor:
    """The acting officer for `text`; a malformed identity is a one-line user error."""
    try:
        return resolver()(text)
    except ValueError as err:
        raise UserError(f"--as: {err}", exit_code=2) from None
