"""`motcua officers add|list|demo|delegate|revoke` and `motcua login`: the embedded default's
front door.

The directory and the signing key live under `<data>/identity/` (0700); `login` caches the
signed token, 0600, in the user's config folder (`motcua.login`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from activities import DATA_DIR
from identity.assertions import MAX_LIFETIME
from motcua import login, officers
from procedures.loader import DEFAULT_CATALOG
from runtime.errors import UserError
from workflows.api import Actor
from workflows.forms import VIETNAM


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=Path, default=DATA_DIR, help="data folder (default: $MOTCUA_DATA or .data)"
    )


def _password_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--password-file", type=Path, help="read the password from this file")
    source.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


def read_password(args: argparse.Namespace, prompt: str = "Password: ") -> str:
    """The password from `--password-file`, `--password-stdin` or a prompt (never argv)."""
    limit = officers.MAX_PASSWORD_LENGTH + 1
    if args.password_file:
        try:
            with args.password_file.open(encoding="utf-8") as source:
                return source.read(limit).rstrip("\r\n")
        except OSError as err:
            raise UserError(f"{args.password_file}: {err.strerror}", 2) from None
    if args.password_stdin:
        return sys.stdin.read(limit).rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask the password: use --password-file or -stdin", 2)
    return getpass.getpass(prompt)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("officers", help="manage the local officer directory")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add an officer (or replace their entry)")
    add.add_argument("user", metavar="USER", help="login: letters, digits, . _ -")
    add.add_argument("--name", required=True, help="full name, for the audit trail")
    add.add_argument("--agency", required=True, help="national agency code, e.g. 000.00.19.H26")
    add.add_argument(
        "--role", action="append", required=True, dest="roles", help="role (repeatable)"
    )
    _password_options(add)
    _data_option(add)
    add.set_defaults(handler=run_add)
    listing = actions.add_parser("list", help="list officers (never their hashes)")
    _data_option(listing)
    listing.set_defaults(handler=run_list)
    demo = actions.add_parser(
        "demo", help="add a demo officer per agency and role of the catalogue; print logins"
    )
    demo.add_argument("--catalog", type=Path, default=DEFAULT_CATALOG, help="catalogue folder")
    _data_option(demo)
    demo.set_defaults(handler=run_demo)
    grant = actions.add_parser(
        "delegate", help="let an officer act for another (on leave) for a bounded period"
    )
    grant.add_argument("--from", dest="from_user", required=True, help="the absent officer")
    grant.add_argument("--to", dest="to_user", required=True, help="who acts for them")
    grant.add_argument("--role", required=True, help="the absent officer's role to act in")
    grant.add_argument(
        "--since", type=_day, default=None, help="first day, YYYY-MM-DD (default: today)"
    )
    grant.add_argument("--until", type=_day, required=True, help="last day, YYYY-MM-DD")
    _data_option(grant)
    grant.set_defaults(handler=run_delegate)
    revoke = actions.add_parser("revoke", help="end a delegation now")
    revoke.add_argument("--from", dest="from_user", required=True, help="the absent officer")
    revoke.add_argument("--to", dest="to_user", required=True, help="who acted for them")
    _data_option(revoke)
    revoke.set_defaults(handler=run_revoke)

    log_in = subparsers.add_parser(
        "login",
        help="check your password and cache a signed token for officers' commands",
        description="Signs a short-lived assertion (user, agency, role) with the data "
        "folder's officers key and caches it, 0600, under $XDG_CONFIG_HOME/motcua/token "
        "(or $MOTCUA_TOKEN_FILE).",
    )
    log_in.add_argument("--user", required=True, help="your login")
    log_in.add_argument("--role", help="the role to act in (default: your first)")
    log_in.add_argument(
        "--acting-for",
        metavar="USER",
        help="act for this officer under a delegation active today (`motcua officers delegate`)",
    )
    log_in.add_argument(
        "--hours",
        type=float,
        default=8.0,
        help=f"hours the token lives (default 8, at most {MAX_LIFETIME.total_seconds() / 3600:g})",
    )
    _password_options(log_in)
    _data_option(log_in)
    log_in.set_defaults(handler=run_login)


def run_add(args: argparse.Namespace) -> int:
    path = officers.path_in(args.data)
    directory = officers.load(path)
    password = officers.hash_password(read_password(args, f"Password for {args.user}: "))
    directory = officers.with_officer(
        directory,
        args.user,
        name=args.name,
        agency=args.agency,
        roles=args.roles,
        password_hash=password,
    )
    officers.save(path, directory)
    print(f"{args.user}: {args.agency} as {', '.join(args.roles)} (in {path})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    directory = officers.load(officers.path_in(args.data))
    for user, officer in directory.officers.items():
        print(f"{user}\t{officer.agency}\t{','.join(officer.roles)}\t{officer.name}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from runtime.catalogue import load_catalogue

    print(officers.demo_report(args.data, load_catalogue(args.catalog)))
    return 0


def run_login(args: argparse.Namespace) -> int:
    hours = timedelta(hours=args.hours)
    if not timedelta(0) < hours <= MAX_LIFETIME:
        raise UserError(f"--hours: between 0 and {MAX_LIFETIME.total_seconds() / 3600:g}", 2)
    session = login.login(
        args.data,
        args.user,
        read_password(args),
        role=args.role,
        lifetime=hours,
        acting_for=args.acting_for,
    )
    where = login.cache(session)
    claims = session.claims
    print(
        f"logged in as {Actor.signed(claims)} until "
        f"{claims.expires_at:%Y-%m-%d %H:%M} UTC (token in {where})"
    )
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text[:40]!r}") from None


def run_delegate(args: argparse.Namespace) -> int:
    path = officers.path_in(args.data)
    since = args.since or datetime.now(VIETNAM).date()
    directory = officers.with_delegation(
        officers.load(path), args.from_user, args.to_user, args.role, since, args.until
    )
    officers.save(path, directory)
    print(
        f"{args.to_user} may act for {args.from_user} as {args.role} from {since} to "
        f"{args.until} (`motcua login --user {args.to_user} --acting-for {args.from_user}`)"
    )
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    path = officers.path_in(args.data)
    officers.save(
        path, officers.without_delegation(officers.load(path), args.from_user, args.to_user)
    )
    print(f"{args.to_user} no longer acts for {args.from_user}")
    return 0
