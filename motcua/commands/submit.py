"""`motcua submit`: receive a dossier and print its code and appointment date."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from activities import DATA_DIR
from motcua import client, publication
from motcua.commands import options
from motcua.commands.files import json_object
from motcua.commands.output import add_common, emit, when
from procedures.models import Channel, FrozenProcedure
from runtime.errors import UserError
from workflows.api import Applicant
from workflows.forms import VIETNAM


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="submit a dossier; print its code and appointment date",
        description="Submit a dossier. Running the same command again returns the same "
        "dossier: the default request id is a hash of procedure, applicant and form.",
    )
    parser.add_argument(
        "procedure", metavar="PROCEDURE", help="catalogue code (of --catalog) or YAML file"
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        metavar="DIR",
        help="catalogue folder the code is looked up in, as given to `motcua dev --catalog` "
        "(default: the packaged catalogue)",
    )
    parser.add_argument("--applicant", required=True, type=Path, metavar="FILE.json")
    parser.add_argument(
        "--channel",
        type=options.channel,
        default=Channel.IN_PERSON,
        metavar="CHANNEL",
        help=f"{options.CHANNEL_CHOICES} (default: in_person)",
    )
    parser.add_argument("--form", type=Path, metavar="FILE.json", help="form data (JSON object)")
    parser.add_argument("--documents", default="", metavar="a,b", help="submitted document ids")
    parser.add_argument("--request-id", help="client request id (default: content hash)")
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_DIR,
        help="data folder whose published catalogue (and publisher keys) says what may run",
    )
    add_common(parser)
    parser.set_defaults(handler=run)


def applicant_of(path: Path) -> Applicant:
    """The applicant from a JSON file; a wrong one is one line."""
    try:
        return Applicant.model_validate(json_object(path, "applicant file", exit_code=1))
    except ValidationError as err:
        raise UserError(f"applicant file {path}: {_first(err)}") from None


async def run(args: argparse.Namespace) -> int:
    applicant = applicant_of(args.applicant)
    form = json_object(args.form, "form file", exit_code=1) if args.form else {}
    if not isinstance(form, dict):
        raise UserError(f"form file {args.form}: expected a JSON object")
    documents = [d.strip() for d in args.documents.split(",") if d.strip()]
    channel = args.channel
    # A submission the procedure refuses is refused here, before connecting to Temporal.
    frozen = client.load_frozen(args.procedure, args.catalog)
    client.check_submission(frozen.procedure, channel, form, documents)
    check_published(args.data, frozen)
    async with client.session(args.address) as temporal:
        done = await client.submit(
            temporal,
            frozen,
            applicant,
            channel,
            form,
            documents,
            args.request_id,
        )
        emit(
            done,
            args.json,
            lambda: (
                f"{done.code}  appointment (ngày hẹn trả) {when(done.due_at)}"
                + ("  (already submitted)" if done.existing else "")
                + (
                    "  (if paid now: received once the fees are paid, the receipt then gives "
                    "the appointment)"
                    if done.awaiting_payment
                    else ""
                )
            ),
        )
    return 0


def check_published(data: Path, frozen: FrozenProcedure) -> None:
    """Refuse, before anything is recorded, a procedure version nobody published (the worker
    would stop its dossier anyway): drafts run in `motcua dryrun`."""
    day = datetime.now(VIETNAM).date()
    if publication.published(data, day).get(frozen.content_hash) != frozen.procedure.code:
        raise UserError(
            f"procedure {frozen.procedure.code} version {frozen.content_hash[:12]} "
            f"({frozen.source}) is not published: run `motcua publish`, or try a draft with "
            "`motcua dryrun`"
        )


def _first(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
