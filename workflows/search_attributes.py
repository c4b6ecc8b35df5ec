"""Custom search attributes: what officers' inboxes and auditors' queries select on.

None of them holds personal data (search attributes are not encrypted): only codes, statuses,
roles and instants. `motcua dev` registers them when it starts the embedded server.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PROCEDURE_CODE = SearchAttributeKey.for_keyword("ProcedureCode")
PORTAL_STATUS = SearchAttributeKey.for_int("PortalStatus")
PENDING_AGENCIES = SearchAttributeKey.for_keyword_list("PendingAgencies")
PENDING_ROLES = SearchAttributeKey.for_keyword_list("PendingRoles")
NEXT_DUE_AT = SearchAttributeKey.for_datetime("NextDueAt")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
RATING = SearchAttributeKey.for_int("Rating")
"""The applicant's satisfaction, 1-5: set at the start of a dossier's rating workflow only."""

ALL: tuple[SearchAttributeKey, ...] = (
    PROCEDURE_CODE,
    PORTAL_STATUS,
    PENDING_AGENCIES,
    PENDING_ROLES,
    NEXT_DUE_AT,
    OVERDUE,
    RATING,
)


def pending_role(agency_code: str, role: str) -> str:
    """The PendingRoles value for a role of an agency, e.g. `000.00.09.H26/head`."""
    return f"{agency_code}/{role}"
