#!/usr/bin/env python3
"""Write docs/plugins.md: one table row per plugin, from the manifests in plugins/.

Columns: id, type, consumes, produces, settings (schema.json; required ones marked *,
defaults in parentheses), what the plugin sends over the network (the "Sends over the
network" paragraph of its description.md; normalizers send nothing) and what it needs
installed (the manifest's ``requires`` with their Debian packages).

    python scripts/plugin_table.py            # rewrite docs/plugins.md
    python scripts/plugin_table.py --check    # exit 1 when docs/plugins.md is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kat.catalogue.plugins import Plugin, discover  # noqa: E402

DOC = ROOT / "docs" / "plugins.md"
HEADER = """# Plugins

Every boefje and normalizer in `plugins/`, generated from their manifests by
`scripts/plugin_table.py` (do not edit by hand: run `python scripts/plugin_table.py`;
a test fails when this page is stale). Settings marked `*` are required; defaults are in
parentheses. Boefjes that need a program fail as `missing-dependency` where it is not
installed; `kat plugins` shows which plugins can run on a machine.

| id | type | consumes | produces | settings | sends over the network | needs installed |
|---|---|---|---|---|---|---|
"""
_NETWORK = re.compile(r"\*\*Sends over the network:\*\*\s*(.+?)(?:\n\s*\n|\Z)", re.DOTALL)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "—"


def settings(plugin: Plugin) -> str:
    schema = plugin.schema or {}
    required = set(schema.get("required") or [])
    parts = []
    for name, spec in (schema.get("properties") or {}).items():
        part = f"`{name}`{'*' if name in required else ''}"
        if "default" in spec:
            part += f" ({spec['default']})"
        parts.append(part)
    return ", ".join(parts)


def network(plugin: Plugin) -> str:
    if plugin.type == "normalizer":
        return "nothing (parses raws)"
    description = plugin.asset("description.md")
    found = _NETWORK.search(description.read_text()) if description else None
    return found.group(1) if found else "not documented"


def installed(plugin: Plugin) -> str:
    return ", ".join(
        f"`{name}` (Debian `{plugin.packages.get(name, name)}`)" for name in plugin.requires
    )


def render(plugins_dir: Path = ROOT / "plugins") -> str:
    plugins, problems = discover(plugins_dir)
    if problems:
        raise SystemExit("broken plugins:\n" + "\n".join(problems))
    rows = []
    for plugin in sorted(plugins.values(), key=lambda p: (p.type, p.id.lower())):
        cells = [
            f"`{plugin.id}`",
            plugin.type,
            ", ".join(plugin.consumes),
            ", ".join(plugin.produces),
            settings(plugin),
            network(plugin),
            installed(plugin),
        ]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return HEADER + "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Write docs/plugins.md from the plugin manifests.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/plugins.md is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not DOC.is_file() or DOC.read_text() != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run python scripts/plugin_table.py")
            return 1
        return 0
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
