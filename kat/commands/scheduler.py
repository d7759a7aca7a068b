"""`kat scheduler`: the continuous-scanning process (one line of the Procfile).

Every ``KAT_SCHEDULER_TICK`` seconds it plans the scope of every organisation and sends
the boefje jobs that are due (:mod:`kat.scheduling.scheduler`). Two schedulers may be
started; only the one holding the store's lease acts, the other waits.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal

from kat import config
from kat.catalogue import open_reader
from kat.catalogue.plugins import discover
from kat.cli import OK, command
from kat.scheduling.scheduler import Scheduler
from kat.scheduling.scope import open_scopes
from kat.store import open_store

logger = logging.getLogger(__name__)


@command
def add(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "scheduler",
        help="keep every in-scope object scanned on its boefjes' intervals",
        description="Plan the declared scopes (catalogue/scopes/, or the KATalogus's when "
        "KATALOGUS_API is set) and send due boefje jobs, every KAT_SCHEDULER_TICK seconds, "
        "while holding the store's scheduler lease.",
    )
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--json", action="store_true", help="with --once: print the pass as JSON")
    parser.set_defaults(handler=run)


def make(settings: config.Settings) -> Scheduler:
    from kat.runtime.actors import enqueue_boefje  # the broker is set up on import

    def send(meta: dict) -> str:
        return enqueue_boefje(
            meta["organization"], meta["boefje"]["id"], meta["input_ooi"],
            arguments=meta["arguments"], job_id=meta["id"],
        )  # fmt: skip

    def plugins():
        return discover(settings.plugins_dir)[0]

    return Scheduler(
        open_store(settings.database_url),
        plugins,
        open_reader(settings),
        open_scopes(settings),
        send,
        default_interval=settings.default_interval,
        max_per_org=settings.scheduler_max_per_org,
        max_total=settings.scheduler_max_total,
    )


def run(args: argparse.Namespace) -> int:
    settings = config.load()
    scheduler = make(settings)
    if args.once:
        report = scheduler.run_once()
        summary = {
            "pairs": report.pairs, "added": report.added, "raised": report.raised,
            "removed": report.removed, "sent": len(report.sent), "deferred": report.deferred,
            "waiting": report.waiting,
        }  # fmt: skip
        print(
            json.dumps(summary) if args.json else " ".join(f"{k}={v}" for k, v in summary.items())
        )
        return OK
    from kat.scheduling import metrics

    if settings.metrics_port:
        metrics.serve(settings.metrics_port)
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    logger.info("scheduler started (tick %s s)", settings.scheduler_tick)
    scheduler.serve(settings.scheduler_tick, stop=lambda: bool(stopping), on_pass=metrics.observe)
    return OK
