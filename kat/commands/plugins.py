"""`kat plugins`: list the plugins found in the plugins folder, whether each can run on
this machine (the programs its manifest ``requires`` are on PATH), and why any were
skipped."""

from __future__ import annotations

import argparse
import json

from kat import config
from kat.catalogue.plugins import discover, install_hint, missing_programs
from kat.cli import FAILED, OK, command


@command
def add(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "plugins",
        help="list the boefjes and normalizers in the plugins folder",
        description="List the plugins in KAT_PLUGINS_DIR, whether each can run on this "
        "machine (the programs it requires are installed), and the reasons any were skipped.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = config.load()
    plugins, problems = discover(settings.plugins_dir)
    if args.json:
        rows = [
            {
                "id": p.id,
                "type": p.type,
                "consumes": list(p.consumes),
                "produces": list(p.produces),
                "scan_level": p.scan_level,
                "enabled": p.enabled,
                "path": str(p.path),
                "requires": list(p.requires),
                "missing": missing_programs(p),
                "runnable": not missing_programs(p),
            }
            for p in plugins.values()
        ]
        print(json.dumps({"plugins": rows, "skipped": problems}, indent=2))
    else:
        for p in sorted(plugins.values(), key=lambda p: (p.type, p.id)):
            missing = missing_programs(p)
            here = "missing " + ", ".join(missing) if missing else "runs here"
            print(f"{p.type:<11} {p.id:<40} {here:<20} consumes {', '.join(p.consumes)}")
            for name in missing:
                print(f"{'':<11} {'':<40} install {name}: {install_hint(p, name)}")
        for problem in problems:
            print(f"skipped: {problem}")
    return FAILED if problems else OK
