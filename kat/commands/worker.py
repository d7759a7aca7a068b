"""`kat boefje` / `kat normalizer`: serve one of the two queues with Dramatiq workers.

``dramatiq kat.actors`` serves both queues; these commands are the same worker limited
to one queue, so boefjes and normalizers can be scaled (and restarted) apart.
"""

from __future__ import annotations

import argparse
import logging
import os

from kat import config
from kat.cli import command

#: Dramatiq's command line reads verbosity as a count; these levels are ours.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _adder(kind: str, queue: str):
    def add(sub: argparse._SubParsersAction) -> None:
        parser = sub.add_parser(
            kind,
            help=f"serve the {queue} queue (Dramatiq worker processes)",
            description=f"Run Dramatiq worker processes for the {kind} actor (queue "
            f"KAT_QUEUE_PREFIX + {queue!r}). Every job runs in a forked child with its "
            "own time and memory limit.",
        )
        parser.add_argument(
            "--processes", "-p", type=int, default=2, help="worker processes (default: 2)"
        )
        parser.add_argument(
            "--threads", "-t", type=int, default=4, help="threads per process (default: 4)"
        )
        parser.add_argument(
            "--log-level",
            choices=LEVELS,
            default=argparse.SUPPRESS,
            help="log level of the workers (default: WARNING)",
        )
        parser.set_defaults(handler=lambda args: serve(args, queue))

    return add


command(_adder("boefje", "boefjes"))
command(_adder("normalizer", "normalizers"))


def serve(args: argparse.Namespace, queue: str) -> int:
    """Run ``dramatiq kat.actors`` in this process, listening to one queue only."""
    from kat.cli import UsageError

    if args.processes < 1 or args.threads < 1:
        raise UsageError("--processes and --threads must be at least 1")
    settings = config.load()
    conflict = settings.remote_store_conflict()
    if conflict:
        raise UsageError(conflict)
    from kat.catalogue import CatalogueError, open_reader
    from kat.runtime.sandbox import hide_environment

    # Dramatiq's main process holds the same environment as the workers it forks (which
    # inherit this): a plugin must not read it from /proc/<pid>/environ either.
    hide_environment()

    try:  # a worker that cannot read settings would fail every job: say so now
        open_reader(settings)
    except CatalogueError as exc:
        raise UsageError(str(exc)) from None
    if settings.metrics_port:
        from kat.actors import metrics_environment

        os.environ.update(metrics_environment(settings))
    import dramatiq.cli

    # Dramatiq maps -v counts to levels; make "no -v" mean the level asked for. Worker
    # processes are forked from this one, so they inherit the mapping.
    dramatiq.cli.VERBOSITY[0] = getattr(logging, args.log_level)
    argv = [
        "kat.actors",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
        "--queues",
        settings.queue_prefix + queue,
        # SIGTERM: running jobs get this long; kat.runtime.shutdown hands back the rest.
        "--worker-shutdown-timeout",
        str(settings.shutdown_grace * 1000),
    ]
    return dramatiq.cli.main(dramatiq.cli.make_argument_parser().parse_args(argv))
