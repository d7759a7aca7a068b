"""`kat plugin new NAME`: the generated plugin loads, and its own test passes as generated."""

from __future__ import annotations

import subprocess
import sys

import pytest
from operate_harness import ROOT

from kat.catalogue.plugins import discover

#: Starts real processes (workers on RabbitMQ, or kat commands that fork jobs).
pytestmark = pytest.mark.e2e


@pytest.mark.timeout(120)
def test_the_generated_plugin_passes_its_own_test(system, tmp_path):
    plugins = tmp_path / "plugins"
    done = system.kat("plugin", "new", "my_resolver", "--plugins-dir", str(plugins))
    assert done.returncode == 0, done.stderr
    folder = plugins / "my_resolver"
    assert sorted(p.name for p in folder.iterdir()) == [
        "boefje.json", "description.md", "main.py", "normalize.py", "normalizer.json",
        "schema.json", "test_my_resolver.py",
    ]  # fmt: skip
    found, problems = discover(plugins)
    assert problems == []
    assert found["my_resolver"].type == "boefje" and found["my_resolver"].schema
    assert found["my_resolver_normalize"].consumes == ("boefje/my_resolver",)
    test = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=tmp_path, capture_output=True, text=True, timeout=100,
    )  # fmt: skip
    assert test.returncode == 0, test.stdout + test.stderr
    assert "2 passed" in test.stdout
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(folder)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout


def test_a_broken_generated_plugin_fails_its_test(system, tmp_path):
    """The generated test checks behaviour: a boefje that finds nothing fails it."""
    plugins = tmp_path / "plugins"
    system.kat("plugin", "new", "broken", "--plugins-dir", str(plugins))
    main = plugins / "broken" / "main.py"
    main.write_text(main.read_text().replace("addresses = sorted(", "addresses = [] or sorted(["))
    main.write_text(main.read_text().replace("for info in found})", "for info in found}][:0])"))
    test = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(plugins)],
        cwd=tmp_path, capture_output=True, text=True, timeout=100,
    )  # fmt: skip
    assert test.returncode == 1 and "1 failed, 1 passed" in test.stdout


@pytest.mark.parametrize(
    "name, message",
    [
        ("My-Plugin", "plugin name 'My-Plugin': use 2-40 lower-case letters"),
        ("../escape", "plugin name '../escape'"),
        ("chain", "plugins/chain: already exists"),
    ],
)
def test_bad_names_exit_2(system, name, message):
    done = system.kat("plugin", "new", name)  # KAT_PLUGINS_DIR: the operate test plugins
    assert done.returncode == 2 and message in done.stderr
