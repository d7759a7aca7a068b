"""`kat` / `python -m kat`: the command line.

Sub-commands live in the modules of ``kat.commands``, one module per area; each
decorates a function with :func:`command` that adds its parser and sets ``handler`` to
a function taking the parsed arguments and returning an exit code.

Exit codes: 0 success, 1 the work failed (a job failed, a check found problems),
2 the command was used wrongly or its input is malformed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable

from kat import __version__
from kat.config import ConfigError

#: Exit codes.
OK, FAILED, USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user; printed without a traceback, exit code 2."""


class CommandFailed(Exception):
    """The work failed (a KATalogus error, a broken file); printed, exit code 1."""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are JSON when ``--json`` was given."""

    def error(self, message: str):  # type: ignore[override]
        if _wants_json:
            _print_error(f"{self.prog}: {message}")
            raise SystemExit(USAGE)
        super().error(message)


#: True when the command line has ``--json``: errors are printed as JSON then.
_wants_json = False


def _print_error(message: str) -> None:
    """``kat: error: …`` on stderr, or ``{"error": …}`` on stdout with ``--json``
    (a script reading the JSON output reads the error there too)."""
    if _wants_json:
        print(json.dumps({"error": message}))
    else:
        print(f"kat: error: {message}", file=sys.stderr)


def require_organisation(reader, org: str) -> None:
    """Raise a :class:`kat.catalogue.CatalogueError` unless ``org`` exists; a broken
    organisation file is named with its line (not called missing)."""
    from kat.catalogue import UnknownOrganisation

    if hasattr(reader, "organisation"):  # the files: BrokenFile says path:line
        reader.organisation(org)
    elif org not in reader.organisations():
        raise UnknownOrganisation(f"organisation {org!r} does not exist")


def _add_commands(sub: argparse._SubParsersAction) -> None:
    for add in _REGISTRY:
        add(sub)


_REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = []


def command(add: Callable[[argparse._SubParsersAction], None]):
    """Register a function that adds one sub-command to the parser."""
    _REGISTRY.append(add)
    return add


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    global _wants_json
    words = sys.argv[1:] if argv is None else argv
    # Before parsing (for argparse's own errors): --json asks for JSON output, except in
    # `kat seal`, where it says VALUE is JSON.
    command_word = next((w for w in words if not w.startswith("-")), "")
    _wants_json = "--json" in words and command_word != "seal"
    _load_command_modules()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return USAGE
    _wants_json = bool(getattr(args, "json", False)) and not getattr(args, "json_is_input", False)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.handler(args)
    except (UsageError, ConfigError) as exc:
        _print_error(str(exc))
        return USAGE
    except CommandFailed as exc:
        _print_error(str(exc))
        return FAILED
    except KeyboardInterrupt:
        return 130


def _load_command_modules() -> None:
    """Import every module of ``kat.commands``; their ``@command`` functions register."""
    import importlib
    import pkgutil

    import kat.commands

    for info in sorted(pkgutil.iter_modules(kat.commands.__path__), key=lambda i: i.name):
        importlib.import_module(f"kat.commands.{info.name}")
