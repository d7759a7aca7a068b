"""docs/plugins.md is generated from the manifests and kept up to date; every boefje
says what it sends over the network and every program it runs is declared."""

import ast
import subprocess
import sys

import pytest

from kat.catalogue.plugins import discover
from tests.plugins.helpers import PLUGINS_DIR

ROOT = PLUGINS_DIR.parent
PLUGINS, _ = discover(PLUGINS_DIR)
BOEFJES = sorted(p for p, plugin in PLUGINS.items() if plugin.type == "boefje")


def test_docs_plugins_md_is_up_to_date():
    done = subprocess.run(
        [sys.executable, "scripts/plugin_table.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_table_has_a_row_per_plugin():
    text = (ROOT / "docs" / "plugins.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(PLUGINS)
    nmap = next(r for r in rows if r.startswith("| `nmap` |"))
    assert "`nmap` (Debian `nmap`)" in nmap and "`TOP_PORTS` (250)" in nmap
    assert "not documented" not in text


@pytest.mark.parametrize("boefje_id", BOEFJES)
def test_every_boefje_says_what_it_sends_and_declares_its_programs(boefje_id):
    plugin = PLUGINS[boefje_id]
    assert "**Sends over the network:**" in plugin.asset("description.md").read_text()
    for name in plugin.requires:
        assert name in plugin.packages, f"{boefje_id}: no Debian package for {name}"
    # A program run through subprocess is in "requires": the worker checks it first.
    tree = ast.parse(plugin.code.read_text())
    runs_programs = any(
        isinstance(node, ast.Attribute) and node.attr == "run"
        and isinstance(node.value, ast.Name) and node.value.id == "subprocess"
        for node in ast.walk(tree)
    )  # fmt: skip
    assert runs_programs == bool(plugin.requires), boefje_id
