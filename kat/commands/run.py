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
from kat.commands.reading import read_text
from kat.jobs import OUTPUT_MARK, JobError, JobStatus, parse_boefje_meta, parse_normalizer_meta


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
    text = read_text(path, what="job file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply to be a job") from None
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
    from kat.runtime.local import LocalExecutor
    from kat.runtime.runner import Context

    meta = _load(args.job, args.kind)
    try:
        ctx = Context(config.load())
    except CatalogueError as exc:
        raise UsageError(str(exc)) from None
    executor = LocalExecutor(ctx, normalize=not args.no_normalize)

    def show(kind: str, job_meta, result) -> None:
        follower = kind == "normalizer" and job_meta is not meta
        _print(kind, result, f" {job_meta.normalizer.id}" if follower else "")

    try:
        executor.submit(args.kind, meta.to_dict(), meta)
        results = executor.run(on_result=show)
    finally:
        ctx.close()
    if not results:
        raise UsageError(f"job {meta.id} has ended already; give the job file another id")
    return OK if all(r.status is JobStatus.COMPLETED for r in results) else FAILED
