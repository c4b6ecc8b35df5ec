"""Masking personal data in audit output: the applicant's identity and officers' form values.

An auditor checks who decided what and when; the citizen's name, identity number and contact
details, and the values officers typed into forms (register numbers, card numbers...), are shown
only with `--reveal`. Free text (notification bodies, reasons) is scrubbed of the applicant's
values, since templates may have copied them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.api import Applicant

HIDDEN = "***"


class Mask:
    """Masks values unless `reveal`; knows the applicant's values to scrub them from text."""

    def __init__(self, applicant: Applicant | None, reveal: bool) -> None:
        self.reveal = reveal
        values = applicant.model_dump().values() if applicant is not None else ()
        # Longest first, so that a full name is replaced before a part of it.
        self._secrets = sorted(
            {str(v) for v in values if isinstance(v, str) and len(v.strip()) >= 3},
            key=len,
            reverse=True,
        )

    def value(self, value: Any) -> Any:
        """A personal value, masked: the first character of a string, nothing of the rest."""
        if self.reveal or value is None or value == "":
            return value
        if isinstance(value, str):
            return value[:1] + HIDDEN
        if isinstance(value, Mapping):
            return self.fields(value)
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return HIDDEN

    def fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Field names kept, values masked."""
        return {str(k): self.value(v) for k, v in fields.items()}

    def text(self, text: str) -> str:
        """Free text with the applicant's values masked wherever they appear."""
        if self.reveal:
            return text
        for secret in self._secrets:
            text = text.replace(secret, secret[:1] + HIDDEN)
        return text
