"""`kat boefje` / `kat normalizer`: serve one kind of job with Dramatiq workers.

``dramatiq kat.actors`` serves both queues; these commands are the same worker limited
to one kind, so boefjes and normalizers can be scaled (and restarted) apart.
``kat boefje --zone`` serves the boefje jobs of one network zone, ``--plugins`` only
some boefjes (their queues, :mod:`kat.routing`).
"""

from __future__ import annotations

import argparse
import logging
import os

from kat import config, routing
from kat.cli import command

logger = logging.getLogger(__name__)

#: Dramatiq's command line reads verbosity as a count; these levels are ours.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _adder(kind: str, queue: str):
    def add(sub: argparse._SubParsersAction) -> None:
        parser = sub.add_parser(
            kind,
            help=f"serve the {queue} queue (Dramatiq worker processes)",
            description=f"Run Dramatiq worker processes for the {kind} actor (queue "
            f"KAT_QUEUE_PREFIX + {queue!r}"
            + (
                ", or 'boefjes@ZONE' and per-plugin queues: docs/runtime.md"
                if kind == "boefje"
                else ""
            )
            + "). Every job runs in a forked child with its own time and memory limit.",
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
        if kind == "boefje":
            parser.add_argument(
                "--zone",
                default=None,
                help="serve only jobs for objects in this network zone, e.g. internal "
                f"for IPAddressV4|internal|10.0.0.5 (default: KAT_WORKER_ZONE or "
                f"{routing.DEFAULT_ZONE})",
            )
            parser.add_argument(
                "--plugins",
                default=None,
                metavar="ID,...",
                help="serve only these boefjes (comma-separated ids); they are claimed: "
                "from now on only such workers run their jobs in this zone (default: "
                "KAT_WORKER_PLUGINS, or every boefje)",
            )
            parser.add_argument(
                "--release",
                action="store_true",
                help="with --plugins: serve nothing, give those boefjes back to the zone's "
                "generic workers (deletes their queues once no worker serves them and no "
                "job waits there)",
            )
        parser.set_defaults(handler=lambda args: serve(args, kind))

    return add


command(_adder("boefje", routing.BOEFJES))
command(_adder("normalizer", routing.NORMALIZERS))


def serve(args: argparse.Namespace, kind: str) -> int:
    """Run ``dramatiq kat.actors`` in this process, listening to one kind's queues only."""
    from kat.cli import UsageError

    if args.processes < 1 or args.threads < 1:
        raise UsageError("--processes and --threads must be at least 1")
    if kind == "boefje":
        _route(args)  # before anything reads the settings: the workers inherit them
    settings = config.load()
    if kind == "boefje":
        queues = routing.boefje_queues(
            settings.queue_prefix, settings.worker_zone, settings.worker_plugins
        )
        if args.release:  # a plugin gone from the folder can still be released
            return _release(args, settings, queues)
        _check_plugins(settings)
    else:
        queues = [routing.normalizer_queue(settings.queue_prefix)]
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
    if settings.worker_plugins:
        _claim(settings, queues)
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
        *queues,
        # SIGTERM: running jobs get this long; kat.runtime.shutdown hands back the rest.
        "--worker-shutdown-timeout",
        str(settings.shutdown_grace * 1000),
    ]
    return dramatiq.cli.main(dramatiq.cli.make_argument_parser().parse_args(argv))


def _route(args: argparse.Namespace) -> None:
    """``--zone`` / ``--plugins`` into the environment the worker processes read
    (``KAT_WORKER_ZONE``, ``KAT_WORKER_PLUGINS``); :func:`config.load` checks them."""
    from kat.cli import UsageError

    if args.zone is not None:
        problem = routing.zone_problem(args.zone)
        if problem:
            raise UsageError(f"--zone: {problem}")
        os.environ["KAT_WORKER_ZONE"] = args.zone
    if args.plugins is not None:
        if not [p for p in args.plugins.split(",") if p.strip()]:
            raise UsageError("--plugins: name at least one boefje id")
        try:
            config.load({"KAT_WORKER_PLUGINS": args.plugins})
        except config.ConfigError as exc:
            raise UsageError(str(exc).replace("KAT_WORKER_PLUGINS", "--plugins", 1)) from None
        os.environ["KAT_WORKER_PLUGINS"] = args.plugins


def _release(args: argparse.Namespace, settings: config.Settings, queues: list[str]) -> int:
    from kat.cli import OK, CommandFailed, UsageError

    if args.plugins is None:
        raise UsageError("--release: name the boefjes to release with --plugins")
    problems = [p for p in (routing.release(settings.broker_url, q) for q in queues) if p]
    if problems:
        raise CommandFailed("; ".join(problems))
    for queue in queues:
        print(f"released {queue}: its jobs go to the zone's queue again")
    return OK


def _check_plugins(settings: config.Settings) -> None:
    """Every plugin a worker is limited to is a boefje in its plugins folder: a typo
    would claim a queue no job ever reaches."""
    from kat.catalogue.plugins import discover
    from kat.cli import UsageError

    if not settings.worker_plugins:
        return
    found = discover(settings.plugins_dir)[0]
    for plugin in settings.worker_plugins:
        if plugin not in found:
            raise UsageError(f"--plugins: no plugin {plugin!r} in {settings.plugins_dir}")
        if found[plugin].type != "boefje":
            raise UsageError(f"--plugins: {plugin!r} is a {found[plugin].type}, not a boefje")


def _claim(settings: config.Settings, queues: list[str]) -> None:
    """Declare the plugin queues now, before the workers start: senders route a plugin's
    jobs to its queue once it exists, and Dramatiq's consumers declare theirs only a
    moment after they report ready."""
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=settings.broker_url, middleware=[])
    try:
        for queue in queues:
            broker.declare_queue(queue, ensure=True)
    except Exception as exc:  # the consumers declare them once RabbitMQ is back
        logger.warning("could not declare %s yet: %s", ", ".join(queues), exc)
    finally:
        broker.close()
