"""`motcua citizen status|supplement|withdraw|act`: the applicant's side of a dossier.

The status reads as a citizen wants it: Vietnamese with English, the appointment date, what is
happening now and the documents issued; no step ids, roles or agency codes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from activities import DATA_DIR
from motcua import client, feedback
from motcua.commands.output import add_common, emit
from motcua.commands.submit import applicant_of, check_published
from motcua.commands.task import field
from procedures.errors import ProcedureError
from procedures.loader import load_catalog
from procedures.models import Channel
from runtime.errors import UserError
from workflows.forms import local


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("citizen", help="a dossier as its applicant sees it")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="where my dossier is (tình trạng hồ sơ)")
    supplement = actions.add_parser("supplement", help="send the documents asked for")
    supplement.add_argument("--documents", required=True, metavar="a,b")
    supplement.add_argument("--note", default="")
    supplement.add_argument(
        "--id-number", required=True, help="the applicant's identity number (CCCD) or tax code"
    )
    withdraw = actions.add_parser("withdraw", help="withdraw the dossier (rút hồ sơ)")
    withdraw.add_argument("--reason", default="")
    withdraw.add_argument(
        "--id-number", required=True, help="the applicant's identity number (CCCD) or tax code"
    )
    act = actions.add_parser(
        "act", help="say you did what a step asks of you (came and signed, paid, confirmed)"
    )
    act.add_argument(
        "--id-number", required=True, help="the applicant's identity number (CCCD) or tax code"
    )
    act.add_argument(
        "--field",
        action="append",
        type=field,
        default=[],
        metavar="k=v",
        dest="fields",
        help="a value the step asks for (repeatable); JSON scalars such as 3 or true are typed",
    )
    fb = actions.add_parser(
        "feedback",
        help="send feedback about a procedure or a dossier (phản ánh, kiến nghị)",
        description="Send feedback: a dossier of the catalogue's feedback procedure, routed to "
        "the agency the procedure or dossier belongs to. Its code tracks the answer "
        "(`motcua citizen status CODE`).",
    )
    fb.add_argument("--applicant", required=True, type=Path, metavar="FILE.json")
    fb.add_argument(
        "--text", required=True, help=f"the feedback, at most {feedback.MAX_CONTENT} characters"
    )
    fb.add_argument("--about-procedure", default="", metavar="CODE", help="procedure code")
    fb.add_argument("--about-dossier", default="", metavar="CODE", help="dossier code")
    fb.add_argument("--catalog", type=Path, metavar="DIR", help="catalogue folder")
    fb.add_argument(
        "--data", type=Path, default=DATA_DIR, help="data folder with the published catalogue"
    )
    add_common(fb)
    fb.set_defaults(handler=run_feedback)
    handlers = (
        (status, run_status),
        (supplement, run_supplement),
        (withdraw, run_withdraw),
        (act, run_act),
    )
    for sub, handler in handlers:
        sub.add_argument("dossier", metavar="DOSSIER", help="dossier code (mã hồ sơ)")
        if sub is act:
            sub.add_argument("step", metavar="STEP", help="the step asking (see `citizen status`)")
        add_common(sub)
        sub.set_defaults(handler=handler)


async def run_status(args: argparse.Namespace) -> int:
    async with client.session(args.address) as temporal:
        seen = await client.status(temporal, args.dossier)
        emit(seen, args.json, lambda: render(seen))
    return 0


def render(seen: client.CitizenStatus) -> str:
    """The status page, Vietnamese first, English after each line."""
    lines = [
        f"Mã hồ sơ / Dossier: {seen.code}",
        f"Thủ tục / Procedure: {seen.procedure}",
        f"Trạng thái / Status: {seen.status_vi} / {seen.status_en}",
        f"Ngày tiếp nhận / Received: {local(seen.received_at)}",
        f"Ngày hẹn trả kết quả / Appointment: {local(seen.appointment)}",
    ]
    if seen.counted_from is not None:
        lines.append(
            f"Thời hạn tính lại từ / Time limit counted anew from: {local(seen.counted_from)} "
            "(hồ sơ bổ sung đầy đủ / complete dossier)"
        )
    lines += [
        f"Hiện tại / Now: {seen.now_vi}",
        f"               {seen.now_en}",
    ]
    if seen.your_step is not None:
        lines.append(
            f"Khi đã thực hiện / When done: motcua citizen act {seen.code} {seen.your_step} "
            "--id-number …"
        )
    if seen.reason:
        lines.append(f"Kết quả, trả lời / Result, answer: {seen.reason}")
    if seen.documents:
        lines.append("Giấy tờ đã ban hành / Documents issued:")
        lines += [f"  - {d.title} ({local(d.issued_at)})" for d in seen.documents]
    return "\n".join(lines)


async def run_feedback(args: argparse.Namespace) -> int:
    if len(args.text) > feedback.MAX_CONTENT or not args.text.strip():
        raise UserError(f"--text: 1 to {feedback.MAX_CONTENT} characters")
    about = {"--about-procedure": args.about_procedure, "--about-dossier": args.about_dossier}
    for option, value in about.items():
        if len(value) > feedback.MAX_CODE:
            raise UserError(f"{option}: at most {feedback.MAX_CODE} characters")
    try:
        catalog = load_catalog() if args.catalog is None else load_catalog(args.catalog)
    except (ProcedureError, OSError) as err:
        first = (str(err).splitlines() or ["unreadable"])[0]
        raise UserError(f"cannot load the catalogue: {first}") from None
    frozen = feedback.channel(catalog)
    if frozen is None:
        raise UserError("the catalogue has no feedback procedure (decision766.yaml)")
    applicant = applicant_of(args.applicant)
    form = feedback.form(frozen, catalog, args.text, args.about_procedure, args.about_dossier)
    client.check_submission(frozen.procedure, Channel.ONLINE, form, ())
    check_published(args.data, frozen)
    async with client.session(args.address) as temporal:
        done = await client.submit(temporal, frozen, applicant, Channel.ONLINE, form)
        emit(done, args.json, lambda: f"{done.code}: đã gửi phản ánh, kiến nghị / feedback sent")
    return 0


async def run_supplement(args: argparse.Namespace) -> int:
    documents = [d.strip() for d in args.documents.split(",") if d.strip()]
    async with client.session(args.address) as temporal:
        done = await client.supplement(
            temporal, args.dossier, documents, args.note, applicant_id=args.id_number
        )
        emit(done, args.json, lambda: f"{done.code}: đã nhận bổ sung / {done.message}")
    return 0


async def run_withdraw(args: argparse.Namespace) -> int:
    async with client.session(args.address) as temporal:
        done = await client.withdraw(
            temporal, args.dossier, args.reason, applicant_id=args.id_number
        )
        emit(done, args.json, lambda: f"{done.code}: đã rút hồ sơ / {done.message}")
    return 0


async def run_act(args: argparse.Namespace) -> int:
    async with client.session(args.address) as temporal:
        done = await client.act_as_applicant(
            temporal, args.dossier, args.step, dict(args.fields), applicant_id=args.id_number
        )
        emit(done, args.json, lambda: f"{done.code}: đã ghi nhận / {done.message}")
    return 0
