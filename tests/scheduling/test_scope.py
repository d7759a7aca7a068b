"""The declared scope file: written sorted and atomically, validated with path and line,
hand edits picked up, and `kat scope` on the files."""

from __future__ import annotations

import json

import pytest

from kat.catalogue.errors import BrokenFile, InvalidValue, NotFound
from kat.cli import main
from kat.scheduling.scope import Schedule, Scopes, seconds

HOST = "Hostname|internet|example.com"


def test_add_change_remove_keeps_a_sorted_reviewable_file(catalogue):
    scopes = Scopes(catalogue.root)
    scopes.set("acme", "Hostname|internet|zeta.example", 1)
    scopes.set("acme", HOST, 2)
    scopes.set("acme", HOST, 3)
    path = catalogue.root / "scopes" / "acme.yaml"
    assert path.read_text() == (f"objects:\n  {HOST}: 3\n  Hostname|internet|zeta.example: 1\n")
    scopes.remove("acme", "Hostname|internet|zeta.example")
    assert scopes.get("acme").objects == {HOST: 3}
    with pytest.raises(NotFound):
        scopes.remove("acme", "Hostname|internet|zeta.example")
    assert scopes.get("beta").objects == {}  # no file: an empty scope


@pytest.mark.parametrize(
    ("ref", "level"), [("Hostname|internet|example.com", 5), ("NoSuchType|x", 1), (HOST, True)]
)
def test_bad_levels_and_references_are_refused(catalogue, ref, level):
    with pytest.raises(InvalidValue):
        Scopes(catalogue.root).set("acme", ref, level)
    assert not (catalogue.root / "scopes" / "acme.yaml").exists()


def test_hand_edits_are_picked_up_and_broken_ones_named_by_line(catalogue):
    scopes = Scopes(catalogue.root)
    scopes.set("acme", HOST, 2)
    path = catalogue.root / "scopes" / "acme.yaml"
    path.write_text(
        f"objects:\n  {HOST}: 3\nplugins:\n  dns-records: {{interval: 30s}}\n"
        "  port-scan: {cron: '0 3 * * *'}\n"
    )
    scope = scopes.get("acme")
    assert scope.objects == {HOST: 3}
    assert scope.plugins == {
        "dns-records": Schedule(interval=30),
        "port-scan": Schedule(cron="0 3 * * *"),
    }
    path.write_text(f"objects:\n  {HOST}: 3\nplugins:\n  dns-records: {{cron: 'not cron'}}\n")
    assert scopes.get("acme").objects == {HOST: 3}  # the last good state is kept
    with pytest.raises(ValueError, match=r"acme\.yaml:4: 'not cron' is not a cron expression"):
        scopes.folder.parse_file("acme")
    with pytest.raises(BrokenFile):  # a writer refuses to write over a broken file
        scopes.set("acme", HOST, 1)


def test_durations():
    assert [seconds(v) for v in (45, "45", "30s", "5m", "2h", "1d")] == [
        45, 45, 30, 300, 7200, 86400
    ]  # fmt: skip
    for bad in (0, -1, "5 weeks", True, 1.5):
        with pytest.raises(ValueError):
            seconds(bad)


def test_kat_scope_command_on_files(catalogue, monkeypatch, capsys):
    monkeypatch.setenv("KAT_CATALOGUE_DIR", str(catalogue.root))
    monkeypatch.delenv("KATALOGUS_API", raising=False)
    assert main(["scope", "add", "--org", "acme", HOST, "--level", "2"]) == 0
    assert main(["scope", "list", "--org", "acme", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{") :])["objects"] == {HOST: 2}
    assert main(["scope", "add", "--org", "acme", "Nope|x", "--level", "2"]) == 2
    assert main(["scope", "add", "--org", "nobody", HOST, "--level", "2"]) == 1
    assert main(["scope", "rm", "--org", "acme", HOST]) == 0
    assert main(["scope", "rm", "--org", "acme", HOST]) == 1
    capsys.readouterr()
    assert main(["scope", "list", "--org", "acme"]) == 0
    assert capsys.readouterr().out == ""


def test_a_plugin_scan_level_override_is_read_checked_and_kept_on_write(catalogue):
    scopes = Scopes(catalogue.root)
    path = catalogue.root / "scopes" / "acme.yaml"
    path.parent.mkdir()
    path.write_text(
        f"objects:\n  {HOST}: 2\nplugins:\n  service_banner: {{scan_level: 3}}\n"
        "  port-scan: {interval: 5m, scan_level: 2}\n"
    )
    assert scopes.get("acme").plugins == {
        "service_banner": Schedule(scan_level=3),
        "port-scan": Schedule(interval=300, scan_level=2),
    }
    scopes.set("acme", "Hostname|internet|other.example", 1)  # a write keeps the overrides
    assert "  port-scan:\n    interval: 300\n    scan_level: 2\n" in path.read_text()
    assert "  service_banner:\n    scan_level: 3\n" in path.read_text()
    assert scopes.get("acme").plugins["service_banner"] == Schedule(scan_level=3)
    for bad, reason in (
        ("{scan_level: 5}", "scan level 5 is not an integer from 0 to 4"),
        ("{scan_level: high}", "scan level 'high' is not an integer"),
        ("{interval: 5m, cron: '0 * * * *'}", "not both"),
        ("{}", "give 'interval' or 'cron'"),
        ("{level: 3}", "give 'interval' or 'cron'"),
    ):
        path.write_text(f"objects:\n  {HOST}: 2\nplugins:\n  service_banner: {bad}\n")
        with pytest.raises(ValueError, match=rf"acme\.yaml:4: .*{reason}"):
            scopes.folder.parse_file("acme")
