"""`kat` / `python -m kat`: the command line.

Sub-commands live in the modules of ``kat.commands``, one module per area; each
decorates a function with :func:`command` that adds its parser and sets ``handler`` to
a function taking the parsed arguments and returning an exit code.

Exit codes: 0 success, 1 the work failed (a job failed, a check found problems),
2 the command was used wrongly or its input is malformed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from kat import __version__
from kat.config import ConfigError

#: Exit codes.
OK, FAILED, USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user; printed without a traceback, exit code 2."""


def _add_commands(sub: argparse._SubParsersAction) -> None:
    for add in _REGISTRY:
        add(sub)


_REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = []


def command(add: Callable[[argparse._SubParsersAction], None]):
    """Register a function that adds one sub-command to the parser."""
    _REGISTRY.append(add)
    return add


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kat",
        description="Run OpenKAT-style boefjes and normalizers, and manage the KATalogus.",
    )
    parser.add_argument("--version", action="version", version=f"kat {__version__}")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level for kat's own messages (default: WARNING)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _load_command_modules()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return USAGE
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.handler(args)
    except (UsageError, ConfigError) as exc:
        print(f"kat: error: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        return 130


def _load_command_modules() -> None:
    """Import every module of ``kat.commands``; their ``@command`` functions register."""
    import importlib
    import pkgutil

    import kat.commands

    for info in sorted(pkgutil.iter_modules(kat.commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"kat.commands.{info.name}")
