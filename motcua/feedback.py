"""Citizens' feedback (phản ánh, kiến nghị) about a procedure or a dossier, sent as a dossier of
the catalogue's feedback procedure (procedures/catalog/feedback.yaml).

The web page, the JSON API and `motcua citizen feedback` share this: which procedure is the
channel (decision766.yaml's `feedback_procedures`, where the indicators read it too), and the
form it gets, with the agency concerned worked out from what the feedback is about so that the
procedure routes it there. The text and the sender's contact travel in the dossier's form and
applicant, encrypted like any dossier's; nothing of them reaches a search attribute or a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from motcua.indicators.scoring import feedback_procedures
from procedures.models import FieldType, FrozenProcedure

MAX_CONTENT = 2000
"""Characters of a feedback's text, whatever the procedure declares (it declares 2000)."""
MAX_CODE = 64


def channel(catalog: Mapping[str, FrozenProcedure]) -> FrozenProcedure | None:
    """The catalogue's feedback procedure, if it has one (the first by code)."""
    codes = sorted(feedback_procedures() & set(catalog))
    return catalog[codes[0]] if codes else None


def is_feedback(code: str) -> bool:
    return code in feedback_procedures()


def agency_concerned(
    proc: FrozenProcedure,
    catalog: Mapping[str, FrozenProcedure],
    about_procedure: str = "",
    about_dossier: str = "",
) -> str | None:
    """The national code of the agency a feedback is about, if the feedback procedure routes to
    it (one of its `agency` field's choices): the dossier's receiving agency (its code's prefix,
    `<agency>-<YYMMDD>-<NNNN>`), else the procedure's."""
    field = proc.procedure.application.get("agency")
    if field is None or field.type is not FieldType.CHOICE:
        return None
    candidates = [about_dossier.partition("-")[0]] if about_dossier else []
    about = catalog.get(about_procedure)
    if about is not None:
        candidates.append(about.procedure.agencies[about.procedure.receiving_agency].code)
    return next((c for c in candidates if c in (field.choices or ())), None)


def form(
    proc: FrozenProcedure,
    catalog: Mapping[str, FrozenProcedure],
    content: str,
    about_procedure: str = "",
    about_dossier: str = "",
) -> dict[str, Any]:
    """The feedback procedure's form for `content` about a procedure and/or a dossier code;
    sizes are checked by the procedure's declared fields at submission."""
    out: dict[str, Any] = {"content": content}
    if about_procedure:
        out["about_procedure"] = about_procedure
    if about_dossier:
        out["about_dossier"] = about_dossier
    agency = agency_concerned(proc, catalog, about_procedure, about_dossier)
    if agency is not None:
        out["agency"] = agency
    return out
