"""Officers' and citizens' operations on dossiers: one typed async API.

The command line is one caller; a web front end is meant to be another, reusing these functions
instead of repeating their logic. Everything goes through Temporal: dossier codes come from the
receiving agency's counter workflow, a dossier is a workflow, inboxes are visibility queries on
the search attributes, and every action is a workflow update. The client adds no rule of its
own about who may do what: the workflow's update validators decide, so a caller cannot
complete another agency's task, whatever client it uses. A rejection reaches the caller as
`UpdateRejected` with the validator's reason; the worker has already logged it (who, what, why).

Its modules read like its operations: `submit`, `inbox`, `citizen` (status, supplement,
withdraw, act_as_applicant for a `citizen` step), `officers` (claim, complete, reassign,
request_supplement, approve_apology, and `redistribute`, a head's bulk reassignment), `events`
(deliver_event, for a `wait` step), with
`views` (what they answer), `errors` (what can go wrong) and `dossier` (the state query and the
update every action runs); `connect` and `session` come from `runtime.connection`. On the
package, `submit` and `inbox` are the operations, not their modules: reach a module's other
names with `from motcua.client.inbox import ...`.
"""

from motcua.client.citizen import act_as_applicant, status, supplement, withdraw
from motcua.client.dossier import show
from motcua.client.errors import (
    CALL_TIMEOUT,
    DossierNotFound,
    InvalidRequest,
    NotReady,
    NoWorker,
    UpdateRejected,
)
from motcua.client.inbox import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    InboxCache,
    InboxSource,
    inbox,
    inbox_query,
)
from motcua.client.officers import (
    approve_apology,
    claim,
    complete,
    deliver_event,
    reassign,
    redistribute,
    request_supplement,
)
from motcua.client.submit import check_submission, default_request_id, load_frozen, submit
from motcua.client.views import (
    STATUS_LABELS,
    Acted,
    CitizenStatus,
    InboxItem,
    InboxPage,
    InboxRow,
    IssuedDocument,
    Redistributed,
    Submitted,
)
from runtime.connection import DEFAULT_ADDRESS, ServerUnreachable, connect, session

__all__ = [
    "CALL_TIMEOUT",
    "DEFAULT_ADDRESS",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "STATUS_LABELS",
    "Acted",
    "CitizenStatus",
    "DossierNotFound",
    "InboxCache",
    "InboxItem",
    "InboxPage",
    "InboxRow",
    "InboxSource",
    "InvalidRequest",
    "IssuedDocument",
    "NoWorker",
    "NotReady",
    "Redistributed",
    "ServerUnreachable",
    "Submitted",
    "UpdateRejected",
    "act_as_applicant",
    "approve_apology",
    "check_submission",
    "claim",
    "complete",
    "connect",
    "default_request_id",
    "deliver_event",
    "inbox",
    "inbox_query",
    "load_frozen",
    "reassign",
    "redistribute",
    "request_supplement",
    "session",
    "show",
    "status",
    "submit",
    "supplement",
    "withdraw",
]
