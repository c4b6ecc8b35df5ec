"""Where an officer's operation gets its signed assertion when the caller passes none.

Officers' updates carry the front door's assertion (`identity.assertions`). A person's command
passes the token `motcua login` cached. A process that is itself the front door, because it
holds the officers' signing key (the demo, the dry run, the tests on the embedded default),
installs a `Signing` here, and its played officers' operations are signed with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from identity import assertions, layout
from identity.keys import SigningKey
from workflows.api import Actor

Signing = Callable[[Actor], Awaitable[str]]
"""Signs an assertion for an officer."""
Clock = Callable[[], Awaitable[datetime]]
"""The instant an assertion is issued at: the time-skipping server's in a dry run."""

_signing: Signing | None = None


def sign_with(signing: Signing | None) -> Signing | None:
    """Install the process's signing (None: none); returns the one it replaces."""
    global _signing
    previous, _signing = _signing, signing
    return previous


@contextmanager
def signing(with_signing: Signing) -> Iterator[None]:
    """Sign with `with_signing` for a block (a dry run, a demo), then as before."""
    previous = sign_with(with_signing)
    try:
        yield
    finally:
        sign_with(previous)


async def assertion_for(actor: Actor, given: str | None) -> str | None:
    """`given`, else an assertion from the installed signing, else None (the workflow then
    refuses the update as unsigned)."""
    if given is not None or _signing is None:
        return given
    return await _signing(actor)


async def _wall_clock() -> datetime:
    return datetime.now(UTC)


def key_signing(key: SigningKey, clock: Clock = _wall_clock) -> Signing:
    """Sign with `key` from `clock`'s now, for the default lifetime."""

    async def sign(actor: Actor) -> str:
        return assertions.issue(
            key.private,
            key.kid,
            user=actor.user,
            agency=actor.agency,
            role=actor.role,
            now=await clock(),
        )

    return sign


def local_signing(data: Path) -> Signing:
    """Sign with the officers' key of a data folder (created on first use), read once."""
    return key_signing(layout.officers_signer(data).key())
