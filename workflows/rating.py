"""The applicant's satisfaction rating of a finished dossier, as its own small workflow.

A dossier's workflow completes with its result, so it can take no update afterwards, and
keeping every finished dossier open for a rating would change what its history shows (a new
interpreter version for every dossier). The rating is instead one workflow per dossier,
`rating-<dossier code>`: the score is in its input, kept in history like any action, and in
the `Rating` search attribute beside `ProcedureCode`, so indicators count it with visibility.
Its id makes a second rating of the same dossier impossible. No dossier history changes.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.api import RATING_WORKFLOW, RateDossier


def rating_id(dossier_code: str) -> str:
    """The rating workflow's id: the dossier's code only, never personal data."""
    return f"rating-{dossier_code}"


@workflow.defn(name=RATING_WORKFLOW)
class RatingWorkflow:
    """Records one rating; its start carries everything, so it ends at once."""

    @workflow.run
    async def run(self, rating: RateDossier) -> int:
        return rating.score
