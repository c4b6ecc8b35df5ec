"""An audit trail as Markdown, HTML (every value escaped) or JSON.

Every value's control characters and bidirectional marks are shown escaped
(`procedures.text.escape`) in Markdown and HTML: a user name holding ESC or U+202E, recorded
by a client or before input checks existed, cannot rewrite the page or the terminal.

Markdown and HTML print instants in Vietnam's time, as the forms do; JSON keeps ISO 8601 with
the offset, for tools. All three are drawn from the same `Trail`, so none says more than another.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Any

from motcua.audit.records import VIETNAM, Trail
from procedures.text import escape

FORMATS = ("md", "html", "json")

_ON_TIME = {"early": "early", "on_time": "on time", "late": "LATE"}


def render(trail: Trail, fmt: str) -> str:
    """The trail in `fmt` (md, html or json)."""
    if fmt == "json":
        return trail.model_dump_json(indent=2) + "\n"
    if fmt == "html":
        return _html(trail)
    return _markdown(trail)


def _at(at: datetime | None) -> str:
    return at.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _sections(trail: Trail) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table, shared by Markdown and HTML."""
    summary = [
        ["Dossier", trail.code],
        ["State", trail.state],
        ["Procedure", f"{trail.procedure_code} {trail.procedure_name}"],
        ["Procedure version", f"{trail.procedure_version}, content hash {trail.content_hash}"],
        ["Procedure file", trail.procedure_source],
        ["Calendar", trail.calendar_version],
        ["Received", f"{_at(trail.received_at)} ({trail.channel}) by {trail.receiving_agency}"],
        ["Applicant", _kv(trail.applicant)],
        ["Application form", _kv(trail.form)],
        ["Documents submitted", ", ".join(trail.documents_submitted)],
        ["Runs", ", ".join(trail.runs)],
    ]
    if trail.parent_code:
        summary.append(["Sub-procedure of", trail.parent_code])
    if trail.outcome is not None:
        out = trail.outcome
        summary.append(
            [
                "Outcome",
                f"{out.result}, status {out.status}, {_at(out.finished_at)}, "
                f"{_ON_TIME.get(out.on_time, out.on_time)}",
            ]
        )
    summary.append(["Personal data", "revealed" if trail.revealed else "masked"])
    tasks = [
        [
            t.step,
            t.title,
            f"{t.agency}/{t.role}",
            _at(t.opened_at),
            _at(t.due_at),
            f"{t.claimed_by or ''} {_at(t.claimed_at)}".strip(),
            f"{t.decided_by or ''} {_at(t.decided_at)}".strip(),
            t.decision or "",
            _kv(t.fields),
            str(t.reminders),
            _ON_TIME.get(t.on_time or "", ""),
        ]
        for t in trail.tasks
    ]
    documents = [
        [_at(d.issued_at), d.number, d.title, d.path or "", (d.sha256 or "")[:16], str(d.event_id)]
        for d in trail.documents
    ]
    entries = [
        [
            _at(e.at),
            str(e.event_id),
            e.kind,
            e.step or "",
            e.actor or "",
            e.detail,
            _kv(e.data),
            _ON_TIME.get(e.on_time or "", ""),
        ]
        for e in trail.entries
    ]
    rejected = [[r.at or "", r.who, r.what, r.why] for r in trail.rejected]
    return [
        ("Dossier", ["", ""], summary),
        (
            "Tasks",
            [
                "step",
                "title",
                "agency/role",
                "opened",
                "due",
                "claimed",
                "decided",
                "decision",
                "fields",
                "reminders",
                "on time",
            ],
            tasks,
        ),
        ("Documents issued", ["issued", "form", "title", "path", "sha256", "event"], documents),
        (
            "Events",
            ["at", "event", "kind", "step", "actor", "detail", "data", "on time"],
            entries,
        ),
        ("Rejected attempts (from the log)", ["at", "who", "what", "why"], rejected),
    ]


def _kv(data: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in data.items() if v not in (None, "", [], {}))


def _markdown(trail: Trail) -> str:
    cell: Callable[[str], str] = lambda text: escape(text.replace("|", "\\|"))  # noqa: E731
    out = [f"# Audit trail of dossier {trail.code}", ""]
    for title, header, rows in _sections(trail):
        out += [f"## {title}", ""]
        if not rows:
            out += ["(none)", ""]
            continue
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


def _html(trail: Trail) -> str:
    esc = html.escape
    out = [
        "<!doctype html>",
        '<html lang="vi"><head><meta charset="utf-8">',
        f"<title>Audit trail {esc(trail.code)}</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #999;padding:2px 6px;text-align:left;vertical-align:top}</style>",
        "</head><body>",
        f"<h1>Audit trail of dossier {esc(trail.code)}</h1>",
    ]
    for title, header, rows in _sections(trail):
        out.append(f"<h2>{esc(title)}</h2>")
        if not rows:
            out.append("<p>(none)</p>")
            continue
        out.append("<table>")
        if any(header):
            out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        out += [
            "<tr>" + "".join(f"<td>{esc(escape(c))}</td>" for c in row) + "</tr>" for row in rows
        ]
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
