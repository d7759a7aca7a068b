"""`kat scan --org ORG INPUT_OOI…`: run the enabled boefjes on inputs, and follow what
they find to ``--depth`` levels.

Jobs go to RabbitMQ for the workers, or, with ``--inline``, run here through the same
planner, sandbox and store (no broker needed). ``--wait`` shows progress in place
until every job of the scan, normalizers included, has ended, then a summary.
Exit codes: 0 done (or queued), 1 a job failed, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import TextIO

from kat import config
from kat.cli import FAILED, OK, CommandFailed, UsageError, command, require_organisation
from kat.jobs import OUTPUT_MARK
from kat.scheduling import planner as scans

#: How often ``--wait`` reads the store, seconds.
POLL = 0.2
#: Without a terminal, ``--wait`` prints a progress line at most this often, seconds.
PLAIN_EVERY = 2.0
#: ``--wait`` says so when no worker has taken a job of the scan for this long, seconds.
IDLE_HINT = 30.0


@command
def add(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "scan",
        help="scan objects with the organisation's enabled boefjes",
        description="Queue every boefje enabled for ORG that consumes an input's type and "
        "whose scan level is at most --scan-level (or only the --boefje ones); with "
        "--depth N, objects the normalizers find are scanned in turn, N levels deep.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT_OOI",
        help="object references (Hostname|internet|example.com); @FILE reads one per line",
    )
    parser.add_argument("--org", required=True, help="the organisation (catalogue id)")
    parser.add_argument(
        "--boefje",
        action="append",
        metavar="ID",
        dest="boefjes",
        help="run only this boefje (repeat for several)",
    )
    parser.add_argument(
        "--scan-level",
        type=int,
        default=2,
        choices=range(5),
        metavar="N",
        help="highest boefje scan level to run, 0-4 (default: 2)",
    )
    parser.add_argument(
        "--depth",
        type=int,
        default=1,
        metavar="N",
        help="levels of objects to scan; 1: the inputs only (default: 1)",
    )
    parser.add_argument("--wait", action="store_true", help="show progress until done")
    parser.add_argument(
        "--inline", action="store_true", help="run every job in this process, without RabbitMQ"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run)


def read_inputs(values: list[str]) -> list[str]:
    """References from the command line; ``@FILE`` is a file of one per line."""
    from kat.ooi import parse_reference

    refs: list[str] = []
    for value in values:
        if value.startswith("@"):
            try:
                lines = Path(value[1:]).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"{value[1:]}: cannot read: {exc}") from None
            found = [(f"{value[1:]}:{n}", ln.strip()) for n, ln in enumerate(lines, 1)]
        else:
            found = [("input", value)]
        for where, ref in found:
            if not ref or ref.startswith("#"):
                continue
            try:
                refs.append(parse_reference(ref).reference)
            except ValueError as exc:
                raise UsageError(f"{where}: {ref!r} is not an object reference: {exc}") from None
    if not refs:
        raise UsageError("no inputs to scan")
    return list(dict.fromkeys(refs))


def check_boefjes(plugins, reader, org: str, named: list[str], scan_level: int) -> None:
    """Named boefjes must exist and be enabled for ``org``; else list what is available."""
    boefjes = {p.id: p for p in plugins.values() if p.type == "boefje"}
    usable = sorted(i for i, p in boefjes.items() if scans.enabled(reader, org, p))
    available = ", ".join(usable) or "none"
    for name in named:
        if name not in boefjes:
            raise UsageError(f"--boefje {name}: no such boefje; enabled for {org}: {available}")
        if name not in usable:
            raise UsageError(f"--boefje {name}: disabled for {org}; enabled for {org}: {available}")
        if boefjes[name].scan_level > scan_level:
            raise UsageError(
                f"--boefje {name}: its scan level {boefjes[name].scan_level} is above "
                f"--scan-level {scan_level}"
            )


class Progress:
    """One progress line, rewritten in place on a terminal, printed now and then otherwise."""

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self._last, self._at = "", 0.0

    def show(self, counts: dict[str, int], final: bool = False) -> None:
        total = sum(counts.values())
        done = counts["completed"] + counts["failed"]
        width = 24
        bar = "#" * (width * done // total if total else 0)
        line = (
            f"[{bar:<{width}}] {done}/{total} jobs: {counts['queued']} queued, "
            f"{counts['running']} running, {counts['completed']} completed, "
            f"{counts['failed']} failed"
        )
        if self.tty:
            self.stream.write("\r\033[K" + line + ("\n" if final else ""))
            self.stream.flush()
        elif line != self._last and (final or time.monotonic() - self._at >= PLAIN_EVERY):
            print(line, file=self.stream, flush=True)
            self._at, self._last = time.monotonic(), line


def summary(store, scan_id: str) -> dict:
    jobs = scans.jobs(store, scan_id)
    found = scans.objects(store, scan_id)
    return {
        "scan": scan_id,
        "jobs": dict(Counter(j["status"] for j in jobs)),
        "objects": dict(sorted(Counter(o["object_type"] for o in found).items())),
        "failed": [
            {
                "id": j["id"],
                "type": j["type"],
                "plugin": j["plugin_id"],
                "input_ooi": j["input_ooi"],
                "reason": j["reason"],
                "detail": (j["detail"] or "").split(OUTPUT_MARK)[0].strip().splitlines()[-1:],
            }
            for j in jobs
            if j["status"] == "failed"
        ],
    }


def print_summary(result: dict) -> None:
    jobs = result["jobs"]
    total = sum(jobs.values())
    print(
        f"scan {result['scan']}: {total} jobs, {jobs.get('completed', 0)} completed, "
        f"{jobs.get('failed', 0)} failed"
    )
    print(f"objects found: {sum(result['objects'].values())}")
    for object_type, count in result["objects"].items():
        print(f"  {object_type:<32} {count}")
    if result["failed"]:
        print("failed jobs:")
        for job in result["failed"]:
            detail = f": {job['detail'][0]}" if job["detail"] else ""
            print(
                f"  {job['id']}  {job['type']} {job['plugin']} on {job['input_ooi']}"
                f"  {job['reason']}{detail}"
            )


def run(args: argparse.Namespace) -> int:
    from kat.catalogue import CatalogueError, open_reader
    from kat.catalogue.plugins import discover
    from kat.store import Store

    if args.depth < 1:
        raise UsageError(f"--depth {args.depth}: must be at least 1")
    inputs = read_inputs(args.inputs)
    settings = config.load()
    try:
        reader = open_reader(settings)
        require_organisation(reader, args.org)
    except CatalogueError as exc:
        raise UsageError(str(exc)) from None
    plugins, _problems = discover(settings.plugins_dir)
    check_boefjes(plugins, reader, args.org, args.boefjes or [], args.scan_level)
    scan = scans.Scan(
        id=str(uuid.uuid4()),
        organization=args.org,
        inputs=tuple(inputs),
        depth=args.depth,
        scan_level=args.scan_level,
        boefjes=tuple(args.boefjes) if args.boefjes else None,
    )
    progress = Progress()
    if args.inline:
        from kat.runtime.runner import Context

        ctx = Context(settings)
        try:
            show = (
                None
                if args.json or not args.wait
                else (lambda: progress.show(scans.progress(ctx.store, scan.id)))
            )
            scans.run_inline(ctx, scan, on_progress=show)
            if show:
                progress.show(scans.progress(ctx.store, scan.id), final=True)
            result = summary(ctx.store, scan.id)
        finally:
            ctx.close()
    else:
        store = Store(settings.db_path)
        sent = _start_on_broker(store, plugins, reader, scan, settings)
        if not args.wait:
            if args.json:
                print(json.dumps({"scan": scan.id, "queued": len(sent)}, indent=2))
            else:
                print(f"scan {scan.id}: {len(sent)} jobs queued")
            return OK
        idle_since, hinted = time.monotonic(), False
        while True:
            counts = scans.progress(store, scan.id)
            if scans.finished(counts):
                break
            if counts["running"] or counts["completed"] or counts["failed"]:
                idle_since = time.monotonic()
            elif not hinted and time.monotonic() - idle_since > IDLE_HINT:
                hinted = True
                print(f"\nkat: no worker has taken a job of this scan in {IDLE_HINT:.0f} s; "
                      "are `kat boefje` and `kat normalizer` running (make run)?",
                      file=sys.stderr)  # fmt: skip
            if not args.json:
                progress.show(counts)
            time.sleep(POLL)
        if not args.json:
            progress.show(counts, final=True)
        result = summary(store, scan.id)
    if not sum(result["jobs"].values()) and not args.json:
        print(
            f"nothing to scan: no boefje enabled for {args.org} consumes the inputs' "
            f"types within scan level {args.scan_level}",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_summary(result)
    return FAILED if result["failed"] else OK


def _start_on_broker(store, plugins, reader, scan, settings) -> list[str]:
    """Record the scan and send its first jobs through RabbitMQ."""
    import logging

    import kat.actors as actors

    if logging.getLogger().level > logging.DEBUG:  # pika logs each failed connect at length
        logging.getLogger("pika").setLevel(logging.CRITICAL)

    def send(job: dict) -> str:
        return actors.enqueue_boefje(
            job["organization"],
            job["boefje"]["id"],
            job["input_ooi"],
            arguments=job["arguments"],
            job_id=job["id"],
        )

    try:
        return scans.start(store, plugins, reader, scan, send)
    except Exception as exc:  # pika/dramatiq connection errors have many types
        if "Connection" in type(exc).__name__ or "connect" in str(exc).lower():
            where = settings.broker_url.rpartition("@")[2]  # never the password
            raise CommandFailed(
                f"cannot reach RabbitMQ at {where} ({exc}); start it, or scan with --inline"
            ) from None
        raise
