"""`kat run --job FILE boefje|normalizer`: run one job file here, without a broker.

The same runner, sandbox and store as the workers; the normalizers a boefje's raws
call for run right after it, inline. Prints what happened; exit 0 when every job
completed, 1 when one failed, 2 when the job file is malformed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kat import config
from kat.cli import FAILED, OK, UsageError, command
from kat.jobs import (
    OUTPUT_MARK,
    JobError,
    JobStatus,
    NormalizerMeta,
    parse_boefje_meta,
    parse_normalizer_meta,
)


@command
def add(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run",
        help="run one boefje or normalizer job file directly (no broker)",
        description="Run a job file (OpenKAT's BoefjeMeta / NormalizerMeta as JSON) in the "
        "sandbox and record it in the store. A boefje's raws go on to the normalizers "
        "that consume them, inline.",
    )
    parser.add_argument("kind", choices=["boefje", "normalizer"], help="what the job file holds")
    parser.add_argument("--job", required=True, type=Path, metavar="FILE", help="the job file")
    parser.add_argument(
        "--no-normalize",
        action="store_true",
        help="do not run the normalizers on a boefje's raws",
    )
    parser.set_defaults(handler=run)


def _load(path: Path, kind: str):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    try:
        return parse_boefje_meta(data) if kind == "boefje" else parse_normalizer_meta(data)
    except JobError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _print(kind: str, result, label: str = "") -> None:
    line = f"{kind}{label} job {result.job_id}: {result.status}"
    if result.reason:
        line += f" ({result.reason})"
    print(line)
    if result.raw_ids:
        print(f"  raw ids: {', '.join(result.raw_ids)}")
    if kind == "normalizer" and result.status is JobStatus.COMPLETED:
        print(f"  objects: {result.object_count}")
    # The reason's last line (an exception's message), never the plugin's own output,
    # which may echo its settings.
    reason = (result.detail or "").split(OUTPUT_MARK)[0].strip()
    if reason:
        print(f"  detail: {reason.splitlines()[-1]}")


def run(args: argparse.Namespace) -> int:
    from kat.catalogue import CatalogueError
    from kat.runtime.middleware import abandon, begin, end, queue
    from kat.runtime.runner import Context, run_boefje, run_normalizer

    meta = _load(args.job, args.kind)
    try:
        ctx = Context(config.load())
    except CatalogueError as exc:
        raise UsageError(str(exc)) from None
    results = []
    unfinished: list[str] = []  # recorded here and not ended yet
    try:
        pending: list[NormalizerMeta] = []
        queue(ctx.store, args.kind, meta.to_dict())
        unfinished.append(meta.id)
        begin(ctx.store, args.kind, meta.to_dict())
        if args.kind == "boefje":
            send = None if args.no_normalize else (lambda job: pending.append(job) or job.id)
            result = run_boefje(ctx, meta, send=send)
        else:
            result = run_normalizer(ctx, meta)
        end(ctx.store, result)
        unfinished.remove(meta.id)
        _print(args.kind, result)
        results.append(result)
        for job in pending:
            queue(ctx.store, "normalizer", job.to_dict())
        unfinished.extend(job.id for job in pending)
        for job in pending:
            begin(ctx.store, "normalizer", job.to_dict())
            follow = run_normalizer(ctx, job)
            end(ctx.store, follow)
            unfinished.remove(job.id)
            _print("normalizer", follow, f" {job.normalizer.id}")
            results.append(follow)
    except BaseException as exc:  # Ctrl-C, or the store or sandbox broke
        abandon(ctx.store, unfinished, exc)
        raise
    finally:
        ctx.close()
    return OK if all(r.status is JobStatus.COMPLETED for r in results) else FAILED
