"""Views of the store: `kat tasks`, `kat task ID`, `kat raw ID`, `kat objects`.

Tables for people, ``--json`` for scripts. They read the store directly (the same
SQLite file the workers write), so they work while the system runs and without it.
A job's settings never show: the stored meta keeps their names only, and a failed
job's detail is cut where the plugin's own output (which may echo them) begins.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kat import config
from kat.cli import OK, CommandFailed, UsageError, command
from kat.jobs import OUTPUT_MARK, JobStatus
from kat.scheduling.levels import OUT_OF_SCOPE, object_levels

#: The most rows a view prints (``--limit`` above this is refused).
MAX_LIMIT = 1_000_000


def _store():
    from kat.store import StoreError, open_store, sqlite_path

    settings = config.load()
    try:
        path = sqlite_path(settings.database_url)
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: no store yet (KAT_DATA_DIR); nothing has run")
        return open_store(settings.database_url)
    except (StoreError, ValueError) as exc:
        raise UsageError(f"cannot open the store: {exc}") from None


def _limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise UsageError(f"--limit {value}: must be between 1 and {MAX_LIMIT:,}")
    return value


def _known_org(store, org: str | None) -> None:
    """An organisation no catalogue file and no job knows is a typo, not an empty list."""
    if org is None or org in store.organizations():
        return
    from kat.catalogue import CatalogueError, open_reader

    try:
        known = open_reader(config.load()).organisations()
    except CatalogueError:
        known = []
    if org not in known:
        raise UsageError(f"organisation {org!r} does not exist (see `kat org list`)")


def _reason(job: dict[str, Any]) -> str:
    return (job.get("detail") or "").split(OUTPUT_MARK)[0].strip()


def _seconds(job: dict[str, Any]) -> float | None:
    from datetime import datetime

    if not (job.get("started_at") and job.get("ended_at")):
        return None
    delta = datetime.fromisoformat(job["ended_at"]) - datetime.fromisoformat(job["started_at"])
    return round(delta.total_seconds(), 3)


def _row(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": job["id"],
        "type": job["type"],
        "organization": job["organization"],
        "plugin": job["plugin_id"],
        "plugin_version": job["plugin_version"],
        "input_ooi": job["input_ooi"],
        "status": job["status"],
        "reason": job["reason"],
        "attempts": job["attempts"],
        "queued_at": job["queued_at"],
        "started_at": job["started_at"],
        "ended_at": job["ended_at"],
        "seconds": _seconds(job),
    }


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for line in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)).rstrip())


@command
def add_tasks(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="list jobs, newest first")
    p.add_argument("--org", help="only this organisation's jobs")
    p.add_argument("--status", choices=[str(s) for s in JobStatus], help="only jobs in it")
    p.add_argument("--plugin", help="only jobs of this boefje or normalizer")
    p.add_argument("--scan", metavar="ID", help="only the jobs of this scan")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(handler=run_tasks)


def run_tasks(args: argparse.Namespace) -> int:
    _limit(args.limit)
    store = _store()
    _known_org(store, args.org)
    if args.scan:
        jobs = [
            j
            for j in reversed([entry.job for entry in store.scan_jobs(args.scan)])
            if (args.org is None or j.organization == args.org)
            and (args.status is None or j.status == args.status)
            and (args.plugin is None or j.plugin_id == args.plugin)
        ][: args.limit]
    else:
        jobs = store.list_jobs(
            org=args.org, status=args.status, plugin=args.plugin, limit=args.limit
        )
    rows = [_row(j.to_dict()) for j in jobs]
    if args.json:
        print(json.dumps(rows, indent=2))
        return OK
    _table(
        [
            [
                r["id"],
                r["type"],
                r["plugin"],
                r["status"],
                r["reason"] or "",
                "" if r["seconds"] is None else f"{r['seconds']:.2f}s",
                r["input_ooi"] or "",
            ]
            for r in rows
        ],
        ["ID", "TYPE", "PLUGIN", "STATUS", "REASON", "TIME", "INPUT"],
    )
    return OK


@command
def add_task(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "task",
        help="one job: meta, status, reason, timings, raws, objects; cancel or retry it",
        description="`kat task ID` shows a job. `kat task cancel ID`: a queued job never "
        "runs, a running one is stopped (failed: cancelled). `kat task retry ID`: a new "
        "job with the same meta, linked to the old one (it must have ended).",
    )
    p.add_argument("words", nargs="+", metavar="[cancel|retry] ID", help="the job id")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(handler=run_task)


def run_task(args: argparse.Namespace) -> int:
    if len(args.words) == 2 and args.words[0] in ("cancel", "retry"):
        return _control(args.words[0], args.words[1], args.json)
    if len(args.words) != 1:
        raise UsageError("usage: kat task ID | kat task cancel ID | kat task retry ID")
    args.id = args.words[0]
    store = _store()
    record = store.get_job(args.id)
    if record is None:
        raise UsageError(f"no job {args.id!r} in the store")
    job = record.to_dict()
    raws = [r.to_dict() for r in store.raws_for(record.id)]
    read = store.get_raw(record.raw_id, with_data=False) if record.raw_id else None
    raws_read = [read.to_dict()] if read is not None and record.type == "normalizer" else []
    found = [
        {"object_type": o.object_type, "primary_key": o.primary_key}
        for o in store.objects_for(record.id)
    ]
    info = {
        **_row(job),
        "detail": _reason(job) or None,
        "meta": job["meta"],
        "raws": raws,
        "raws_read": raws_read,
        "objects": found,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return OK
    for key in (
        "id",
        "type",
        "organization",
        "plugin",
        "plugin_version",
        "input_ooi",
        "status",
        "reason",
        "attempts",
        "queued_at",
        "started_at",
        "ended_at",
    ):
        if info[key] is not None:
            print(f"{key + ':':<16}{info[key]}")
    if info["seconds"] is not None:
        print(f"{'duration:':<16}{info['seconds']:.3f} s")
    if info["detail"]:
        print("detail:")
        for line in info["detail"].splitlines()[-10:]:
            print(f"  {line}")
    for title, items in (("raw files", raws), ("raw read", raws_read)):
        if items:
            print(f"{title}:")
            for r in items:
                print(f"  {r['id']}  {r['size']:>8} bytes  {', '.join(r['mime_types'])}")
    if found:
        print(f"objects ({len(found)}):")
        for o in found:
            print(f"  {o['primary_key']}")
    print("meta:")
    print(json.dumps(job["meta"], indent=2))
    return OK


def _control(action: str, job_id: str, as_json: bool) -> int:
    """``kat task cancel|retry ID``: on the KATalogus at ``KATALOGUS_API`` when set, else
    through the workers' lifecycle and broker here."""
    from kat.commands import katalogus_access as access

    remote = access.remote_control(config.load())
    if remote is not None:
        call = remote.cancel_task if action == "cancel" else remote.retry_task
        result = access.control(call, job_id)
    else:
        result = _control_here(action, job_id)
    if action == "cancel":
        line = f"job {job_id}: {result['status']}" + (
            f" ({result['reason']})" if result["reason"] else ""
        )
    else:
        line = f"job {result['id']} queued: a retry of {job_id}"
    print(json.dumps(result) if as_json else line)
    return OK


def _control_here(action: str, job_id: str) -> dict[str, Any]:
    store = _store()
    if store.get_job(job_id) is None:
        raise UsageError(f"no job {job_id!r} in the store")
    import kat.actors as actors

    try:
        if action == "cancel":
            job = actors.cancel(job_id)
            return {"id": job_id, "status": str(job.status), "reason": job.reason}
        return {"id": actors.retry(job_id), "retry_of": job_id, "status": "queued"}
    except (LookupError, ValueError) as exc:
        raise UsageError(str(exc)) from None


@command
def add_raw(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("raw", help="write a raw file's bytes to standard output")
    p.add_argument("id", help="the raw file id (see `kat task JOB`)")
    p.set_defaults(handler=run_raw)


def run_raw(args: argparse.Namespace) -> int:
    raw = _store().get_raw(args.id)
    if raw is None:
        raise UsageError(f"no raw file {args.id!r} in the store")
    sys.stdout.buffer.write(raw.data or b"")
    sys.stdout.buffer.flush()
    return OK


@command
def add_objects(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "objects",
        help="objects the normalizers found, with their scan level and where it came from",
        description="Each object's scan level: declared in the organisation's scope "
        "(catalogue/scopes/ORG.yaml, or the KATalogus's when KATALOGUS_API is set), "
        "inherited along a reference (which one is shown), or '-' (not in scope: stored, "
        "never scanned).",
    )
    p.add_argument("--org", required=True, help="the organisation")
    p.add_argument("--type", dest="object_type", metavar="T", help="only objects of this type")
    p.add_argument("--scan", metavar="ID", help="only objects found by this scan")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default: 1000)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(handler=run_objects)


def run_objects(args: argparse.Namespace) -> int:
    _limit(args.limit)
    store = _store()
    _known_org(store, args.org)
    if args.scan:
        keys = {key for _type, key in store.scan_objects(args.scan)}
    found: dict[str, dict[str, Any]] = {}
    for obj in store.objects(org=args.org, object_type=args.object_type, limit=MAX_LIMIT):
        if args.scan and obj.primary_key not in keys:
            continue
        found.setdefault(obj.primary_key, obj.to_dict())  # the first job that found it
    rows = sorted(found.values(), key=lambda o: (o["object_type"], o["primary_key"]))
    rows = rows[: args.limit]
    levels = _levels(store, args.org)
    for row in rows:
        level = levels.get(row["primary_key"])
        row["_scan_level"] = level.level if level else None
        row["_level_source"] = level.source if level else OUT_OF_SCOPE
    findings = [o for o in rows if o["object_type"] == "Finding"]
    for finding in findings:
        finding["risk"] = _risk(store, args.org, finding.get("finding_type"))
    if args.json:
        print(json.dumps(rows, indent=2))
        return OK
    if findings and len(findings) == len(rows):  # a list of findings: their risk first
        _table(
            [[o["risk"]["severity"] or "unknown", "" if o["risk"]["score"] is None
              else f"{o['risk']['score']:g}", o["primary_key"], o["_job_id"]]
             for o in sorted(rows, key=_by_severity)],
            ["SEVERITY", "SCORE", "FINDING", "FOUND BY JOB"],
        )  # fmt: skip
        return OK
    _table(
        [[o["object_type"], o["primary_key"],
          "-" if o["_scan_level"] is None else o["_scan_level"], o["_level_source"],
          o["_job_id"]] for o in rows],
        ["TYPE", "PRIMARY KEY", "LEVEL", "LEVEL FROM", "FOUND BY JOB"],
    )  # fmt: skip
    return OK


def _levels(store, org: str) -> dict[str, Any]:
    """Each object's scan level (:func:`kat.scheduling.levels.object_levels`), the scope
    read from the catalogue files or ``KATALOGUS_API``."""
    from kat.catalogue import CatalogueError
    from kat.scheduling.scope import open_scopes

    try:
        return object_levels(store, open_scopes(config.load()), org)
    except CatalogueError as exc:
        raise CommandFailed(f"the scan levels of {org!r} cannot be read: {exc}") from None


#: Severities from worst to least (OpenKAT's order).
SEVERITIES = ("critical", "high", "medium", "low", "recommendation", "pending", "unknown")


def _risk(store, org: str, finding_type: str | None) -> dict[str, Any]:
    """A finding's risk: what the newest stored version of its finding type that has a
    severity says (the finding-type feeders affirm it with severity, score and name; a
    normalizer naming the type again later, without its risk, does not take it away)."""
    found = store.find_object(org, finding_type) if finding_type else None
    data = found.data if found else {}
    if found and not data.get("risk_severity"):
        rated = [o.data for o in store.objects(org=org, object_type=found.object_type,
                                               limit=MAX_LIMIT)
                 if o.primary_key == finding_type and o.data.get("risk_severity")]  # fmt: skip
        data = rated[-1] if rated else data
    severity = data.get("risk_severity")
    return {
        "severity": str(severity).lower() if severity else None,
        "score": data.get("risk_score"),
        "name": data.get("name"),
    }


def _by_severity(row: dict[str, Any]) -> tuple[int, str]:
    severity = row["risk"]["severity"] or "unknown"
    rank = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
    return rank, row["primary_key"]
