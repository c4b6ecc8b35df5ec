"""The officers' public keys this process trusts, set once by the worker at start.

Update validators run inside Temporal's workflow sandbox and may do no I/O, so the keys are
read by the worker (`runtime`) from its configured keyset file and handed over here; the
workflow imports this module passed through the sandbox, so every dossier of the process
sees the same keys. Validators do not run on replay, so replacing the keys (a rotation, a
revocation) never changes how a recorded history replays.
"""

from __future__ import annotations

from types import MappingProxyType

from identity.assertions import Keyset

_officer_keys: Keyset = MappingProxyType({})


def trust_officer_keys(keys: Keyset) -> None:
    """Replace the officers' keys update validators verify assertions with."""
    global _officer_keys
    _officer_keys = MappingProxyType(dict(keys))


def officer_keys() -> Keyset:
    """The keys trusted now (empty until the worker is configured: then every signed update
    is refused as signed with an unknown key)."""
    return _officer_keys
