"""Legal forms (receipt slip, supplement request, refusal, control slip...) rendered to HTML.

The template source travels frozen inside the workflow input, so a dossier keeps the form it
was received with even if the file changes. Templates come from procedure authors, not from
programmers: they run in jinja2's immutable sandbox (`procedures.templates.FORMS`) with
autoescape (an applicant's name such as `<script>` prints as text) and `StrictUndefined`,
because a legal form with a silently blank field is worse than a failed step: a misspelt
variable stops the step with a clear, non-retryable error instead. Templates use
`default(...)` or `is defined` for optional data.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.payloads import RenderedDocument, RenderForm
from activities.pdf import SignedCopies
from activities.private import private_dir, write_private
from procedures import templates

log = structlog.get_logger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""Dossier codes and document ids become path parts: no separators, no `..`."""


class Documents:
    """Renders legal forms into `<data>/results/<dossier code>/`; receipts and results also
    as PDFs signed by the issuing agency (`activities.pdf`)."""

    def __init__(self, data_dir: Path) -> None:
        self.results_dir = data_dir.resolve() / "results"
        self.signed = SignedCopies(data_dir.resolve())

    @activity.defn(name="render_form")
    def render_form(self, request: RenderForm) -> RenderedDocument:
        """Render one form to `<doc_id>-<kind>.html`; a retry rewrites the same bytes.

        Besides `request.context`, the template sees `form` (number, title, kind) and
        `dossier_code`, unless the context sets them itself.
        """
        for part in (request.dossier_code, request.doc_id):
            if not _SAFE_NAME.match(part) or ".." in part:
                raise _template_error(request, f"unsafe file name part {part!r}")
        if request.form.source is None:
            raise _template_error(request, "the form has no template source (not loaded?)")
        context = {
            "form": {
                "number": request.form.number,
                "title": request.form.title,
                "kind": str(request.kind),
            },
            "dossier_code": request.dossier_code,
            **request.context,
        }
        try:
            html = templates.render_form(request.form.source, context)
        except Exception as err:  # rendering is pure: no retry can fix any error it raises
            raise _template_error(request, f"{type(err).__name__}: {err}") from err
        data = html.encode()
        path = self.results_dir / request.dossier_code / f"{request.doc_id}-{request.kind}.html"
        _write_atomically(path, data)
        pdf = None
        if request.kind in SignedCopies.KINDS:
            pdf = path.with_suffix(".pdf")
            _write_atomically(pdf, self.signed.make(request, html))
        digest = hashlib.sha256(data).hexdigest()
        log.info(
            "form rendered",
            dossier_code=request.dossier_code,
            kind=str(request.kind),
            path=str(path),
            sha256=digest,
            pdf=str(pdf) if pdf else None,
        )
        return RenderedDocument(
            kind=request.kind,
            title=request.form.title,
            path=str(path),
            sha256=digest,
            pdf=str(pdf) if pdf else None,
        )


def _template_error(request: RenderForm, reason: str) -> ApplicationError:
    """A non-retryable failure naming the form, for the officer or author to fix."""
    return ApplicationError(
        f"form {request.form.number} ({request.kind}, template {request.form.template})"
        f" of dossier {request.dossier_code} cannot be rendered: {reason}",
        type="TemplateError",
        non_retryable=True,
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """Write through a temporary file and `os.replace`: readers never see half a form.

    Forms carry the applicant's personal data: 0600 in 0700 folders (activities.private)."""
    private_dir(path.parent.parent)
    write_private(path, data)
