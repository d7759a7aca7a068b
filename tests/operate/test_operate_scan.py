"""`kat scan`: which boefjes run, the depth loop, --inline and broker mode, exit codes."""

from __future__ import annotations

import io
import json
import multiprocessing
import os

import pytest
from operate_harness import PLUGINS, System

from kat.catalogue.plugins import discover
from kat.commands.scan import Progress
from kat.scheduling import planner as scan
from kat.store import Scan, open_store

INPUT = "Hostname|internet|example.test"
#: depth -> (jobs, distinct Hostnames) for the `chain` plugin, which finds a. and b. of
#: its input, the input again and shared.test every time.
TREE = {1: (2, 4), 2: (8, 10), 3: (20, 22)}


def _scan(system: System, *args: str, depth: int = 1):
    done = system.kat("scan", "--org", "acme", "--wait", "--json", "--depth", str(depth),
                      *args, INPUT)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_the_plan_takes_enabled_boefjes_that_consume_the_type_within_the_level(system):
    plugins, _ = discover(PLUGINS)

    def plan(object_type: str, level: int = 2, only=None) -> list[str]:
        s = scan.Scan("s", "acme", (INPUT,), scan_level=level, boefjes=only)
        return [p.id for p in scan.boefjes_for(plugins, system.catalogue, s, object_type)]

    assert plan("Hostname") == ["chain"]  # crash: disabled by default; deep: level 3
    assert plan("Hostname", level=3) == ["chain", "deep"]
    assert plan("IPAddressV4") == []  # hold: disabled
    system.catalogue.set_enabled("acme", "crash", True)
    system.catalogue.set_enabled("acme", "chain", False)
    assert plan("Hostname", level=3) == ["crash", "deep"]
    assert plan("Hostname", level=3, only=("deep",)) == ["deep"]
    assert plan("Hostname", level=0) == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("depth", sorted(TREE))
@pytest.mark.e2e
def test_inline_depth_scans_what_was_found_each_pair_once(system, depth):
    code, result = _scan(system, "--inline", depth=depth)
    jobs, hostnames = TREE[depth]
    assert code == 0
    assert result["jobs"] == {"completed": jobs}
    assert result["objects"] == {"Hostname": hostnames}
    tasks = system.kat_json("tasks", "--scan", result["scan"], "--limit", "1000")
    pairs = [(t["plugin"], t["input_ooi"]) for t in tasks if t["type"] == "boefje"]
    assert len(pairs) == len(set(pairs)) == jobs // 2
    assert (("chain", "Hostname|internet|shared.test") in pairs) == (depth > 1)


@pytest.mark.timeout(120)
@pytest.mark.e2e
def test_broker_scan_finds_the_same_objects_as_inline(running):
    code, broker = _scan(running, depth=3)
    assert code == 0
    assert broker["jobs"] == {"completed": TREE[3][0]}
    _code, inline = _scan(running, "--inline", depth=3)
    keys = [
        [o["primary_key"] for o in running.kat_json("objects", "--org", "acme", "--scan", s)]
        for s in (broker["scan"], inline["scan"])
    ]
    assert keys[0] == keys[1] and len(keys[0]) == TREE[3][1]


@pytest.mark.timeout(120)
@pytest.mark.e2e
def test_a_failed_job_is_reported_with_its_reason_and_exit_1(system):
    system.catalogue.set_enabled("acme", "crash", True)
    done = system.kat("scan", "--org", "acme", "--inline", "--wait", INPUT)
    assert done.returncode == 1
    assert "2 completed, 1 failed" in done.stdout
    assert "failed jobs:" in done.stdout
    assert "boefje crash on Hostname|internet|example.test  crashed" in done.stdout
    assert "RuntimeError: crash on example.test" in done.stdout
    # progress without a terminal: whole lines, the last one says it all
    assert "\r" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("3/3 jobs: 0 queued, 0 running, 2 completed, 1 failed")
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--boefje", "nmap"], "--boefje nmap: no such boefje; enabled for acme: chain"),
        (["--boefje", "hold"], "--boefje hold: disabled for acme; enabled for acme: chain"),
        (["--boefje", "deep"], "its scan level 3 is above --scan-level 2"),
        (["--depth", "0"], "--depth 0: must be at least 1"),
        (["Hostname|internet"], "'Hostname|internet' is not an object reference"),
        (["--org", "nobody"], "organisation 'nobody' does not exist"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(system, args, message):
    org = [] if "--org" in args else ["--org", "acme"]
    done = system.kat("scan", *org, "--inline", *args, INPUT)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_inputs_from_a_file(system, tmp_path):
    listing = tmp_path / "inputs.txt"
    listing.write_text("# two inputs\nHostname|internet|one.test\n\nHostname|internet|two.test\n")
    done = system.kat("scan", "--org", "acme", "--inline", "--json", f"@{listing}")
    assert json.loads(done.stdout)["jobs"] == {"completed": 4}
    listing.write_text("Hostname|internet|one.test\nnot a reference!\n")
    done = system.kat("scan", "--org", "acme", "--inline", f"@{listing}")
    assert done.returncode == 2 and f"{listing}:2: 'not a reference!'" in done.stderr


def test_a_bare_address_or_host_name_is_taken_and_named(system):
    done = system.kat("scan", "--org", "acme", "--inline", "--json", "one.test", "127.0.0.1")
    assert done.returncode in (0, 1), done.stderr
    assert "kat: one.test is Hostname|internet|one.test" in done.stderr
    assert "kat: 127.0.0.1 is IPAddressV4|internet|127.0.0.1" in done.stderr
    assert json.loads(done.stdout)["jobs"]  # the hostname was scanned


def test_a_scan_that_plans_nothing_says_why(system):
    def note(ref: str) -> str:
        done = system.kat("scan", "--org", "acme", "--inline", "--json", ref)
        return json.loads(done.stdout)["note"]

    assert note("DNSZone|internet|one.test") == "nothing to scan: no boefje consumes DNSZone"
    assert note("IPAddressV4|internet|192.0.2.1").startswith(
        "nothing to scan: none of the boefjes that consume IPAddressV4 (hold) is enabled for acme"
    )
    system.catalogue.set_enabled("acme", "chain", False)
    assert note("Hostname|internet|one.test") == (
        "nothing to scan: the boefjes enabled for Hostname (deep: level 3) are above --scan-level 2"
    )


def test_progress_rewrites_one_line_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    progress = Progress(out)
    progress.show({"queued": 3, "running": 1, "completed": 0, "failed": 0})
    progress.show({"queued": 0, "running": 0, "completed": 3, "failed": 1}, final=True)
    assert out.getvalue().count("\r\033[K") == 2
    assert out.getvalue().endswith("[" + "#" * 24 + "] 4/4 jobs: 0 queued, 0 running, "
                                   "3 completed, 1 failed\n")  # fmt: skip


def _claim_all(url, scan_id, results):
    store = open_store(url)
    pairs = [("chain", f"Hostname|internet|{i}.test") for i in range(50)]
    claimed = [store.claim_pairs(scan_id, 1, pairs[i : i + 5]) for i in range(0, 50, 5)]
    results.put(sum(job_id is not None for part in claimed for job_id in part))


@pytest.mark.timeout(60)
@pytest.mark.e2e
def test_racing_workers_claim_each_pair_once(system):
    store = system.store()
    s = Scan("race", "acme", (INPUT,), depth=2)
    store.add_scan(s)
    results = multiprocessing.get_context("fork").Queue()
    procs = [
        multiprocessing.get_context("fork").Process(
            target=_claim_all, args=(system.settings.database_url, s.id, results)
        )
        for _ in range(4)
    ]
    store.close()  # never share a connection across a fork
    for proc in procs:
        proc.start()
    won = [results.get(timeout=30) for _ in procs]
    for proc in procs:
        proc.join()
    assert sum(won) == 50


def test_a_relative_plugins_folder_works_as_the_default_does(system):
    """The default KAT_PLUGINS_DIR is ./plugins; jobs run in a scratch folder elsewhere."""
    relative = os.path.relpath(PLUGINS, system.root)
    done = system.kat("scan", "--org", "acme", "--inline", "--json", INPUT,
                      KAT_PLUGINS_DIR=relative)  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["jobs"] == {"completed": 2}


@pytest.mark.e2e  # the jobs are queued on RabbitMQ: a scan without --inline
def test_planning_needs_no_private_key(tmp_path):
    """The workers open sealed settings; `kat scan` only reads which boefjes are on."""
    from operate_harness import make_system

    from kat.catalogue import sealing as crypto

    public, private = crypto.generate()
    keys = {"BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX", "KATALOGUS_PUBLIC_KEY": public,
            "KATALOGUS_PRIVATE_KEY": private}  # fmt: skip
    system = make_system(tmp_path, **keys)
    try:
        system.catalogue.set_enabled("acme", "hold", True)
        system.catalogue.put_setting("acme", "hold", "HOLD_DIR", str(tmp_path))
        assert "sealed:" in (tmp_path / "catalogue/organisations/acme.yaml").read_text()
        done = system.kat("scan", "--org", "acme", "IPAddressV4|internet|0.0.0.0",
                          KATALOGUS_PRIVATE_KEY="")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.endswith(": 1 jobs queued\n")
    finally:
        system.stop()


def test_an_unreachable_broker_is_one_clear_line(system):
    url = "amqp://guest:hunter2-pw@127.0.0.1:1/%2F"
    done = system.kat("scan", "--org", "acme", INPUT, KAT_BROKER_URL=url)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # no traceback
    assert "cannot reach RabbitMQ at 127.0.0.1:1/%2F" in done.stderr
    assert "scan with --inline" in done.stderr and "hunter2" not in done.stderr


@pytest.mark.timeout(120)
@pytest.mark.e2e
def test_ctrl_c_in_an_inline_scan_leaves_no_job_running_or_queued(system, job_writable):
    """Nothing will ever run an inline scan's jobs once it stops: they end as failed,
    not `running` or `queued` forever in `kat tasks` and in the scan's progress."""
    import signal
    import subprocess
    import sys
    import time

    system.catalogue.set_enabled("acme", "hold", True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kat", "scan", "--org", "acme", "--inline", "--boefje", "hold",
         "IPAddressV4|internet|127.0.0.11", "IPAddressV4|internet|127.0.0.12"],
        env={**os.environ, **system.env, "BOEFJE_HOLD_DIR": str(job_writable)},
        cwd=system.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (job_writable / "127.0.0.11.started").exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    jobs = system.store().list_jobs(plugin="hold")
    assert len(jobs) == 2
    assert {j.status for j in jobs} == {"failed"}, jobs
    assert all("interrupted" in j.detail for j in jobs)
