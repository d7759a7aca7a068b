"""`kat tasks`, `kat task ID`, `kat raw ID`, `kat objects`: what a scan left in the store."""

from __future__ import annotations

import json

import pytest
from operate_harness import System

#: Starts real processes (workers on RabbitMQ, or kat commands that fork jobs).
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> tuple[System, str]:
    from operate_harness import make_system

    system = make_system(tmp_path_factory.mktemp("views"))
    system.catalogue.set_enabled("acme", "crash", True)
    done = system.kat("scan", "--org", "acme", "--inline", "--json", "--depth", "2",
                      "Hostname|internet|example.test")  # fmt: skip
    yield system, json.loads(done.stdout)["scan"]
    system.stop()


def test_tasks_filter_by_status_plugin_org_and_limit(scanned):
    system, scan_id = scanned
    every = system.kat_json("tasks", "--limit", "1000")
    assert len(every) == 8 + 4  # chain tree to depth 2, and crash on four hostnames
    failed = system.kat_json("tasks", "--status", "failed")
    assert {(t["plugin"], t["reason"]) for t in failed} == {("crash", "crashed")}
    assert len(failed) == 4
    normalizers = system.kat_json("tasks", "--plugin", "chain_normalize")
    assert {t["type"] for t in normalizers} == {"normalizer"} and len(normalizers) == 4
    assert len(system.kat_json("tasks", "--limit", "3")) == 3
    system.catalogue.create_organisation("other", "Other, without jobs")
    assert system.kat_json("tasks", "--org", "other") == []
    assert len(system.kat_json("tasks", "--scan", scan_id, "--limit", "1000")) == 12
    table = system.kat("tasks", "--status", "failed").stdout.splitlines()
    assert table[0].split() == ["ID", "TYPE", "PLUGIN", "STATUS", "REASON", "TIME", "INPUT"]
    assert all(" crash " in line and " crashed " in line for line in table[1:])


def test_task_shows_status_timings_raws_and_objects(scanned):
    system, _scan = scanned
    [boefje] = [t for t in system.kat_json("tasks", "--plugin", "chain", "--limit", "100")
                if t["input_ooi"] == "Hostname|internet|example.test"]  # fmt: skip
    info = system.kat_json("task", boefje["id"])
    assert info["status"] == "completed" and info["seconds"] >= 0
    [raw] = info["raws"]
    assert raw["size"] == len("example.test")
    assert raw["mime_types"] == ["boefje/chain", "text/plain"]
    assert system.kat("raw", raw["id"]).stdout == "example.test"

    [normalizer] = [t for t in system.kat_json("tasks", "--plugin", "chain_normalize")
                    if t["input_ooi"] == "Hostname|internet|example.test"]  # fmt: skip
    text = system.kat("task", normalizer["id"]).stdout
    assert "status:         completed" in text
    assert "objects (4):" in text and "Hostname|internet|shared.test" in text
    assert f"{raw['id']}        12 bytes  boefje/chain, text/plain" in text


def test_a_failed_task_shows_its_reason(scanned):
    system, _scan = scanned
    failed = system.kat_json("tasks", "--status", "failed", "--limit", "1")[0]
    text = system.kat("task", failed["id"]).stdout
    assert "reason:         crashed" in text
    assert "RuntimeError: crash on" in text


def test_objects_by_type_and_scan(scanned):
    system, scan_id = scanned
    found = system.kat_json("objects", "--org", "acme", "--type", "Hostname")
    assert len(found) == 10
    assert {o["object_type"] for o in found} == {"Hostname"}
    assert system.kat_json("objects", "--org", "acme", "--type", "IPPort") == []
    table = system.kat("objects", "--org", "acme", "--scan", scan_id).stdout.splitlines()
    assert table[0].split() == [
        "TYPE", "PRIMARY", "KEY", "LEVEL", "LEVEL", "FROM", "FOUND", "BY", "JOB"
    ]  # fmt: skip
    assert len(table) == 11


def test_objects_show_their_scan_level_and_where_it_came_from(scanned):
    system, _scan = scanned
    host = "Hostname|internet|example.test"
    before = {o["primary_key"]: o for o in system.kat_json("objects", "--org", "acme")}
    assert (before[host]["_scan_level"], before[host]["_level_source"]) == (None, "not in scope")
    done = system.kat("scope", "add", "--org", "acme", host, "--level", "2")
    assert done.returncode == 0, done.stderr
    after = {o["primary_key"]: o for o in system.kat_json("objects", "--org", "acme")}
    assert (after[host]["_scan_level"], after[host]["_level_source"]) == (2, "declared")
    others = [o for key, o in after.items() if key != host]
    assert others and {(o["_scan_level"], o["_level_source"]) for o in others} == {
        (None, "not in scope")  # hostnames pass no level to each other
    }
    [row] = [line for line in system.kat("objects", "--org", "acme").stdout.splitlines()
             if f" {host} " in line]  # fmt: skip
    assert row.split()[:4] == ["Hostname", host, "2", "declared"]
    system.kat("scope", "rm", "--org", "acme", host)


@pytest.mark.parametrize(
    "args, message",
    [
        (["task", "no-such-job"], "no job 'no-such-job' in the store"),
        (["raw", "no-such-raw"], "no raw file 'no-such-raw' in the store"),
        (["tasks", "--limit", "0"], "--limit 0: must be between 1 and 1,000,000"),
        (["tasks", "--limit", str(10**21)], "must be between 1 and 1,000,000"),
        (["tasks", "--org", "nope"], "organisation 'nope' does not exist"),
        (["tasks", "--status", "lost"], "invalid choice: 'lost'"),
    ],
)
def test_view_errors_exit_2(scanned, args, message):
    system, _scan = scanned
    done = system.kat(*args)
    assert done.returncode == 2 and message in done.stderr


def test_views_without_a_store_say_so(system):
    # The embedded store is a file that appears with the first job (a database server's
    # store exists once it is made, whichever backend this run's systems use).
    missing = system.root / "nothing-ran-here" / "kat.db"
    done = system.kat("tasks", KAT_DATABASE_URL=f"sqlite:///{missing}")
    assert done.returncode == 2 and "no store yet" in done.stderr
    assert not missing.exists()
