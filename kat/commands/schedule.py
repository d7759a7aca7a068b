"""`kat schedule --org ORG`: what the scheduler runs next for an organisation, and when."""

from __future__ import annotations

import argparse
import json

from kat import config
from kat.cli import OK, command
from kat.scheduling.scheduler import upcoming
from kat.store import open_store


@command
def add(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "schedule",
        help="show what the scheduler runs next for an organisation, and when",
        description="The (boefje, object) pairs of ORG's scope, soonest first: urgent "
        "ones (new objects, raised levels, newly enabled boefjes) ahead of routine rescans.",
    )
    parser.add_argument("--org", required=True, help="organisation id")
    parser.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    store = open_store(config.load().database_url)
    try:
        rows = list(upcoming(store, args.org))[: max(args.limit, 0)]
    finally:
        store.close()
    if args.json:
        print(json.dumps([e.to_dict() for e in rows], indent=2))
        return OK
    for e in rows:
        when = "now (urgent)" if e.urgent else e.next_at
        print(f"{when:<33} L{e.level} {e.boefje_id:<24} {e.input_ooi}")
    if not rows:
        print(f"nothing scheduled for {args.org}")
    return OK
