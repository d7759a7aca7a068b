"""`kat store migrate|copy|info`: the store's schema, and moving it between backends."""

from __future__ import annotations

import argparse
import json
import sys

from kat import config
from kat.cli import OK, UsageError, command


@command
def add(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "store",
        help="migrate the store, copy it to another backend, show what it holds",
        description="The store holds jobs, raws, objects and scans: SQLite by default "
        "($KAT_DATA_DIR/kat.db), PostgreSQL for several machines (KAT_DATABASE_URL).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    migrate = actions.add_parser(
        "migrate", help="apply the schema migrations the store lacks (also done on start)"
    )
    migrate.add_argument("--url", help="the store (default: KAT_DATABASE_URL or the SQLite file)")
    migrate.add_argument("--json", action="store_true", help="print JSON for scripts")
    migrate.set_defaults(handler=run_migrate)
    info = actions.add_parser("info", help="the store's backend, schema version and counts")
    info.add_argument("--url", help="the store (default: KAT_DATABASE_URL or the SQLite file)")
    info.add_argument("--json", action="store_true", help="print JSON for scripts")
    info.set_defaults(handler=run_info)
    copy = actions.add_parser(
        "copy",
        help="copy a whole store into another (empty) one",
        description="Copy every job, raw, object and scan from one store into another, "
        "e.g. from the embedded SQLite file to PostgreSQL: "
        "kat store copy --from sqlite:///data/kat.db --to postgresql://kat@db/kat",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="source store")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="target store")
    copy.add_argument("--json", action="store_true", help="print JSON for scripts")
    copy.set_defaults(handler=run_copy)


def _open(url: str | None, migrate: bool = True):
    from kat.store import BadDatabaseURL, StoreError, open_store

    url = url or config.load().database_url
    try:
        return open_store(url, migrate=migrate)
    except (BadDatabaseURL, StoreError) as exc:
        raise UsageError(f"cannot open the store {_safe(url)}: {exc}") from None


def _safe(url: str) -> str:
    """A URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        rest = rest.split(":", 1)[0] + ":***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def run_migrate(args: argparse.Namespace) -> int:
    store = _open(args.url, migrate=False)
    try:
        applied = store.migrate()
        version = store.schema_version()
    finally:
        store.close()
    if args.json:
        print(json.dumps({"applied": applied, "version": version}))
    elif applied:
        print(f"migrated to version {version} (applied {', '.join(map(str, applied))})")
    else:
        print(f"up to date at version {version}")
    return OK


def run_info(args: argparse.Namespace) -> int:
    store = _open(args.url)
    try:
        info = {
            "backend": store.dialect,
            "version": store.schema_version(),
            "jobs": store.count_jobs(),
            "organizations": store.organizations(),
            "workers": [w.name for w in store.workers()],
        }
    finally:
        store.close()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key + ':':<16}{', '.join(value) if isinstance(value, list) else value}")
    return OK


def run_copy(args: argparse.Namespace) -> int:
    from kat.store import StoreError
    from kat.store.copy import CopyRefused, copy_store

    source, target = _open(args.source), _open(args.target)

    def progress(table: str, count: int) -> None:
        if not args.json:
            print(f"  {table:<10} {count:>9} rows", file=sys.stderr, flush=True)

    try:
        counts = copy_store(source, target, progress)
    except CopyRefused as exc:
        raise UsageError(f"{_safe(args.target)}: {exc}") from None
    except StoreError as exc:
        raise UsageError(f"the copy stopped: {exc}") from None
    finally:
        source.close()
        target.close()
    if args.json:
        print(json.dumps(counts))
    else:
        print(f"copied {counts['jobs']} jobs, {counts['raws']} raws, {counts['objects']} objects")
    return OK
