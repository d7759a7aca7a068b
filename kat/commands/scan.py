"""`kat scan --org ORG INPUT_OOI…`: run the enabled boefjes on inputs, and follow what
they find to ``--depth`` levels.

Jobs go to RabbitMQ for the workers, or, with ``--inline``, run here through the same
planner, sandbox and store (no broker needed). ``--wait`` shows progress in place
until every job of the scan, normalizers included, has ended, then a summary.
Exit codes: 0 done (or queued), 1 a job failed, 2 a usage error.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
import time
import uuid
from collections import Counter
from typing import TextIO

from kat import config
from kat.cli import FAILED, OK, CommandFailed, UsageError, command, require_organisation
from kat.commands.reading import read_text
from kat.jobs import OUTPUT_MARK, JobStatus
from kat.scheduling import planner

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
        "--depth N, objects the normalizers find are scanned in turn, N levels deep. "
        "`kat scan cancel ID` cancels every job of a scan that has not ended.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT_OOI",
        help="object references (Hostname|internet|example.com); @FILE reads one per line",
    )
    parser.add_argument("--org", help="the organisation (catalogue id); required to scan")
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
            lines = read_text(value[1:], what="inputs file").splitlines()
            found = [(f"{value[1:]}:{n}", ln.strip()) for n, ln in enumerate(lines, 1)]
        else:
            found = [("input", value)]
        for where, ref in found:
            if not ref or ref.startswith("#"):
                continue
            try:
                refs.append(parse_reference(ref).reference)
            except ValueError as exc:
                bare = _bare_reference(ref)
                if bare is None:
                    raise UsageError(
                        f"{where}: {ref!r} is not an object reference (Type|network|…), an IP "
                        f"address or a host name: {exc}"
                    ) from None
                print(f"kat: {ref} is {bare}", file=sys.stderr)
                refs.append(bare)
    if not refs:
        raise UsageError("no inputs to scan")
    return list(dict.fromkeys(refs))


#: A host name: dot-separated labels of letters, digits and hyphens.
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$")  # fmt: skip


def _bare_reference(text: str) -> str | None:
    """The reference a bare IP address or host name stands for (network ``internet``)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is not None:
        return f"IPAddressV{address.version}|internet|{address}"
    if "|" not in text and _HOSTNAME.match(text) and not text.replace(".", "").isdigit():
        return f"Hostname|internet|{text.rstrip('.').lower()}"
    return None


def check_boefjes(plugins, reader, org: str, named: list[str], scan_level: int) -> None:
    """Named boefjes must exist and be enabled for ``org``; else list what is available."""
    boefjes = {p.id: p for p in plugins.values() if p.type == "boefje"}
    usable = sorted(i for i, p in boefjes.items() if planner.enabled(reader, org, p))
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


def why_nothing(plugins, reader, scan) -> str:
    """Why a scan planned no job: no boefje for the inputs' types, none enabled, or
    none within the scan level."""
    from kat.ooi import parse_reference

    types = sorted({parse_reference(ref).object_type for ref in scan.inputs})
    consumers = [
        p for p in plugins.values()
        if p.type == "boefje" and set(p.consumes) & set(types)
        and (scan.boefjes is None or p.id in scan.boefjes)
    ]  # fmt: skip
    names = ", ".join(types)
    if not consumers:
        return f"no boefje consumes {names}"
    enabled = [p for p in consumers if planner.enabled(reader, scan.organization, p)]
    if not enabled:
        listed = ", ".join(sorted(p.id for p in consumers))
        return (
            f"none of the boefjes that consume {names} ({listed}) is enabled for "
            f"{scan.organization}; enable one with `kat plugin enable --org "
            f"{scan.organization} ID`"
        )
    levels = ", ".join(sorted(f"{p.id}: level {p.scan_level}" for p in enabled))
    return f"the boefjes enabled for {names} ({levels}) are above --scan-level {scan.scan_level}"


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
    jobs = [entry.job for entry in store.scan_jobs(scan_id)]
    found = store.scan_objects(scan_id)
    return {
        "scan": scan_id,
        "jobs": dict(Counter(str(j.status) for j in jobs)),
        "objects": dict(sorted(Counter(object_type for object_type, _key in found).items())),
        "failed": [
            {
                "id": j.id,
                "type": j.type,
                "plugin": j.plugin_id,
                "input_ooi": j.input_ooi,
                "reason": j.reason,
                "detail": (j.detail or "").split(OUTPUT_MARK)[0].strip().splitlines()[-1:],
            }
            for j in jobs
            if j.status is JobStatus.FAILED
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
    from kat.store import Scan, open_store

    if len(args.inputs) == 2 and args.inputs[0] == "cancel":
        return cancel_scan(args.inputs[1], args.json)
    if not args.org:
        raise UsageError("--org is required: the organisation whose boefjes scan")
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
    scan = Scan(
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
                else (lambda: progress.show(ctx.store.scan_progress(scan.id)))
            )
            run_inline(ctx, scan, show)
            if show:
                progress.show(ctx.store.scan_progress(scan.id), final=True)
            result = summary(ctx.store, scan.id)
        finally:
            ctx.close()
    else:
        store = open_store(settings.database_url)
        sent = _start_on_broker(store, plugins, reader, scan, settings)
        if not args.wait:
            if args.json:
                print(json.dumps({"scan": scan.id, "queued": len(sent)}, indent=2))
            else:
                print(f"scan {scan.id}: {len(sent)} jobs queued")
            return OK
        idle_since, hinted = time.monotonic(), False
        while True:
            counts = store.scan_progress(scan.id)
            if planner.finished(counts):
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
    if not sum(result["jobs"].values()):
        result["note"] = "nothing to scan: " + why_nothing(plugins, reader, scan)
        if not args.json:
            print(result["note"], file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_summary(result)
    return FAILED if result["failed"] else OK


def cancel_scan(scan_id: str, as_json: bool) -> int:
    """``kat scan cancel ID``: every job of the scan that has not ended is cancelled (on
    the KATalogus at ``KATALOGUS_API`` when set)."""
    from kat.commands import katalogus_access as access

    remote = access.remote_control(config.load())
    if remote is not None:
        open_jobs = access.control(remote.cancel_scan, scan_id)["cancelled"]
    else:
        import kat.actors as actors
        from kat.lifecycle import UnknownJob

        try:
            open_jobs = actors.lifecycle.cancel_scan(scan_id)
        except UnknownJob as exc:
            raise UsageError(str(exc)) from None
    if as_json:
        print(json.dumps({"scan": scan_id, "cancelled": open_jobs}))
    else:
        print(f"scan {scan_id}: {len(open_jobs)} jobs cancelled")
    return OK


def run_inline(ctx, scan, on_step) -> None:
    """Run ``scan`` to the end in this process: the same planner, sandbox and store as
    the workers, with the local executor's queue in place of RabbitMQ."""
    from kat.runtime.local import LocalExecutor

    executor = LocalExecutor(ctx)
    executor.after_normalizer = lambda meta, result: planner.follow_up(
        ctx, meta, result, executor.send_boefjes
    )
    try:
        planner.start(ctx.store, ctx.plugins(), ctx.catalogue, scan, executor.send_boefjes)
    except BaseException as exc:  # Ctrl-C while the first jobs were being recorded
        executor.lifecycle.abandon([job["id"] for _kind, job, _meta in executor.pending], exc)
        raise
    executor.run(on_step=on_step)


def _start_on_broker(store, plugins, reader, scan, settings) -> list[str]:
    """Record the scan and send its first jobs through RabbitMQ."""
    import logging

    import kat.actors as actors

    if logging.getLogger().level > logging.DEBUG:  # pika logs each failed connect at length
        logging.getLogger("pika").setLevel(logging.CRITICAL)

    try:
        return planner.start(store, plugins, reader, scan, actors.send_boefjes)
    except Exception as exc:  # pika/dramatiq connection errors have many types
        if "Connection" in type(exc).__name__ or "connect" in str(exc).lower():
            where = settings.broker_url.rpartition("@")[2]  # never the password
            raise CommandFailed(
                f"cannot reach RabbitMQ at {where} ({exc}); start it, or scan with --inline"
            ) from None
        raise
