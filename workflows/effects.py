"""The dossier's side effects, all activities: forms, notices to citizens and officers, the
portal feed. Each call is one activity in the history, so their order and arguments are part of
every golden history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.core import DossierCore

with workflow.unsafe.imports_passed_through():
    from jinja2 import TemplateError

    from activities.payloads import (
        Notification,
        OfficerNotices,
        PortalRecord,
        RenderedDocument,
        RenderForm,
    )
    from procedures.models import FormKind
    from procedures.templates import Refused, render_string
    from workflows.api import DocumentView, PortalStatus
    from workflows.forms import dossier_context, local, procedure_context

ACTIVITY_TIMEOUT = timedelta(seconds=15)
"""Forms and outbox lines take milliseconds; a worker killed mid-activity delays the dossier
by at most this long before the activity is retried elsewhere."""


class DossierEffects(DossierCore):
    """The activities the dossier calls, over its state."""

    async def _render(self, kind: FormKind | str, details: dict[str, Any]) -> RenderedDocument:
        form = self._proc.forms[kind]
        seq = self._rt.next_seq()
        procedure = procedure_context(self._proc)
        if self._has("variable_time_limits"):  # the dossier's own limit, of its case
            procedure["time_limit"] = self._rt.clock.budget.model_dump(mode="json")
        if self._has("computed_fees"):  # the amounts due on this application
            for fee, shown in zip(self._proc.fees, procedure["fees"], strict=True):
                shown["amount_vnd"] = fee.for_form(self._inp.form, self._inp.channel.value)
                shown.pop("amount", None)
        context = {
            "procedure": procedure,
            "form": {"number": form.number, "title": form.title},
            "dossier": dossier_context(
                self._inp, self._rt, self._due(), self._has("templates_read_fields")
            ),
            "issued_at": local(workflow.now()),
            "details": details,
        }
        doc = await workflow.execute_activity(
            "render_form",
            RenderForm(
                doc_id=f"{seq:03d}",
                dossier_code=self._inp.code,
                kind=kind,
                form=form,
                context=context,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            result_type=RenderedDocument,
        )
        self._rt.documents.append(
            DocumentView(kind=str(kind), title=doc.title, path=doc.path, issued_at=workflow.now())
        )
        self._event("document_issued", detail=f"{form.number} {form.title}")
        return doc

    async def _notify(self, subject: str, body: str, *documents: RenderedDocument) -> None:
        channel = {"online": "email", "in_person": "sms", "post": "post"}[self._inp.channel.value]
        to = None
        if self._has("delivers_notifications"):
            contact = {"email": self._inp.applicant.email, "sms": self._inp.applicant.phone}
            to = contact.get(channel) or None  # an applicant without one gets the queue only
        await workflow.execute_activity(
            "notify_applicant",
            Notification(
                notification_id=f"{self._inp.code}:n{self._rt.next_seq()}",
                dossier_code=self._inp.code,
                channel=channel,
                subject=subject,
                body=body,
                documents=tuple(d.path for d in documents),
                at=workflow.now(),
                to=to,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    async def _notify_officers(self, notices: OfficerNotices) -> None:
        """Queue notices to officers. Abandoned, not cancelled, if the task is decided or the
        dossier ends meanwhile: a notice sent stays sent, and cancelling would cost an event."""
        await workflow.execute_activity(
            "notify_officers",
            notices,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            cancellation_type=workflow.ActivityCancellationType.ABANDON,
        )

    async def _set_status(self, status: PortalStatus, content: str) -> None:
        self._rt.status = status
        self._event("status", detail=f"{status.value} {status.name.lower()}")
        self._publish()
        await self._portal(status, content)

    async def _portal(self, status: PortalStatus, content: str, **step: Any) -> None:
        await workflow.execute_activity(
            "sync_portal",
            PortalRecord(
                record_id=f"{self._inp.code}:p{self._rt.next_seq()}",
                dossier_code=self._inp.code,
                procedure_code=self._proc.code,
                status=status.value,
                at=workflow.now(),
                content=content,
                **step,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    def _template(self, value: Any, where: str) -> Any:
        """An argument (or an end step's reason) rendered; `where` locates it in a message.

        With `template_errors_end_dossier`, a template that fails fails the dossier at once
        with that message, in any branch; before, the workflow task failed and was retried.
        """
        if not isinstance(value, str):
            return value
        context = {"form": self._inp.form, "decisions": self._rt.decisions, "code": self._inp.code}
        lenient = self._has("templates_read_fields")
        if lenient:
            context["fields"] = self._rt.fields
        if self._has("templates_read_receipt"):
            expression = self._expression_context()
            context["received"], context["channel"] = expression["received"], expression["channel"]
        if not self._has("template_errors_end_dossier"):
            return render_string(value, lenient, **context)
        try:
            return render_string(value, lenient, **context)
        except Refused:  # over a budget: `stops_runaway` ends the dossier stopped
            raise
        except TemplateError as err:
            raise ApplicationError(
                f"{where}: {type(err).__name__}: {err}", type="TemplateError", non_retryable=True
            ) from None
