"""`kat user add|rm|list`: the console's users, in ``users.yaml`` beside the catalogue."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from kat import config
from kat.cli import OK, UsageError, command


@command
def add(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="console users (viewers and operators)")
    user_sub = user.add_subparsers(dest="user_command", metavar="COMMAND", required=True)
    new = user_sub.add_parser(
        "add",
        help="add a user (the password is read from a prompt, or KAT_USER_PASSWORD)",
        description="Add a console user to KAT_CATALOGUE_DIR/users.yaml with an argon2 "
        "hash of the password. The password comes from a prompt on a terminal, else from "
        "the first line of standard input, or from KAT_USER_PASSWORD.",
    )
    new.add_argument("name")
    new.add_argument("--role", choices=["viewer", "operator"], required=True)
    new.add_argument("--replace", action="store_true", help="change an existing user")
    new.add_argument("--json", action="store_true", help="print JSON for scripts")
    new.set_defaults(handler=run_add)
    rm = user_sub.add_parser("rm", help="remove a user (their sessions end)")
    rm.add_argument("name")
    rm.add_argument("--json", action="store_true", help="print JSON for scripts")
    rm.set_defaults(handler=run_rm)
    ls = user_sub.add_parser("list", help="list users and roles")
    ls.add_argument("--json", action="store_true", help="print JSON for scripts")
    ls.set_defaults(handler=run_list)


def _users():
    from kat.console.users import Users

    return Users(config.load().catalogue_dir)


def _password() -> str:
    if os.environ.get("KAT_USER_PASSWORD"):
        return os.environ["KAT_USER_PASSWORD"]
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise UsageError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def run_add(args: argparse.Namespace) -> int:
    from kat.console.users import UserError

    try:
        user = _users().add(args.name, args.role, _password(), replace=args.replace)
    except UserError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps({"name": user.name, "role": user.role}))
    else:
        print(f"user {user.name} ({user.role}) saved")
    return OK


def run_rm(args: argparse.Namespace) -> int:
    from kat.console.users import UserError

    try:
        _users().remove(args.name)
    except UserError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps({"removed": args.name}) if args.json else f"user {args.name} removed")
    return OK


def run_list(args: argparse.Namespace) -> int:
    from kat.catalogue.yamlfiles import FileProblem
    from kat.console.users import UserError

    try:
        names = _users().names()
    except (UserError, FileProblem) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps([{"name": n, "role": r} for n, r in names.items()]))
    else:
        for name, role in names.items():
            print(f"{name:<24} {role}")
    return OK
