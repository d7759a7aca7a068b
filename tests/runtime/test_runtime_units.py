"""The parts on their own: job parsing, a boefje's environment, the store, the sandbox."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from runtime_harness import PLUGINS

from kat.catalogue.plugins import discover
from kat.jobs import (
    CARRIED_RAW_MAX,
    FailureReason,
    JobError,
    NormalizerMeta,
    parse_boefje_meta,
    parse_normalizer_meta,
    stored_form,
)
from kat.runtime.environment import InvalidSettings, boefje_environment
from kat.runtime.runner import dispatch
from kat.runtime.sandbox import ForkServer, SandboxError

pytestmark = pytest.mark.timeout(60)

PLUGINS_FOUND, _ = discover(PLUGINS)


def test_boefje_meta_keeps_openkat_field_names():
    meta = parse_boefje_meta(
        {
            "id": "6f2ab1c9-6f5e-4a43-9b0e-1b7b2b3b8a11",
            "boefje": {"id": "noop", "version": "1"},
            "organization": "acme",
            "input_ooi": "Hostname|internet|example.com",
            "arguments": {"input": {"name": "example.com"}},
        }
    )
    assert meta.to_dict()["boefje"] == {"id": "noop", "version": "1"}
    assert meta.to_dict()["input_ooi"] == "Hostname|internet|example.com"


def test_job_errors_name_the_field():
    with pytest.raises(JobError, match=r"^environment\.X: expected str"):
        parse_boefje_meta({"boefje": "noop", "organization": "a", "environment": {"X": 1}})
    with pytest.raises(JobError, match=r"^input_ooi: 'example.com' is not an OOI reference"):
        parse_boefje_meta({"boefje": "noop", "organization": "a", "input_ooi": "example.com"})


class _Plugins:
    """What :func:`dispatch` asks of a worker's context: the plugins, each enabled."""

    def plugins(self):
        return PLUGINS_FOUND

    def state(self, organization, plugin):
        return {}


def _dispatched(data: bytes) -> NormalizerMeta:
    meta = parse_boefje_meta({"boefje": "noop", "organization": "acme", "input_ooi": REF_X})
    raws = [("r-1", ({"text/plain", "boefje/noop"}, data))]
    (job,) = dispatch(_Plugins(), meta, meta.to_dict(), raws)
    return job


REF_X = "Hostname|internet|x.test"


def test_a_small_raw_travels_with_its_normalizer_job_and_is_never_stored_with_it():
    data = bytes(range(256))  # not text: base64 in the message
    job = _dispatched(data)
    assert job.normalizer.id == "hostname-normalizer" and job.raw_data.id == "r-1"
    message = job.message()
    assert "content" not in job.to_dict()["raw_data"]  # what the store records
    assert parse_normalizer_meta(message).raw_data.raw == data  # what the worker reads
    assert stored_form(message) == job.to_dict()


def test_a_raw_over_the_carried_size_is_read_from_the_store_by_its_job():
    job = _dispatched(b"x" * (CARRIED_RAW_MAX + 1))
    assert job.raw_data.raw is None and "content" not in job.message()["raw_data"]
    assert _dispatched(b"x" * CARRIED_RAW_MAX).raw_data.raw == b"x" * CARRIED_RAW_MAX


def test_a_carried_raw_that_is_not_base64_names_the_field():
    message = _dispatched(b"kat.test").message()
    message["raw_data"]["content"] = "not base64!"
    with pytest.raises(JobError, match=r"^raw_data\.content: not base64"):
        parse_normalizer_meta(message)


def test_environment_takes_schema_keys_only_and_org_settings_win():
    plugin = PLUGINS_FOUND["env-dump"]
    env = boefje_environment(
        plugin,
        {"GREETING": "hi", "API_TOKEN": "default", "PATH": "/usr/bin"},
        {"API_TOKEN": "from-org", "RETRIES": 5, "UNRELATED": "x"},
    )
    assert env == {"GREETING": "hi", "API_TOKEN": "from-org", "RETRIES": "5"}


def test_environment_is_validated_without_echoing_values():
    plugin = PLUGINS_FOUND["env-dump"]
    with pytest.raises(InvalidSettings, match="RETRIES: does not satisfy 'type'") as caught:
        boefje_environment(plugin, {}, {"API_TOKEN": "t", "RETRIES": "many-secret"})
    assert "many-secret" not in str(caught.value)
    with pytest.raises(InvalidSettings, match="'API_TOKEN' is required"):
        boefje_environment(plugin, {}, {})


def _request(plugin_id: str) -> dict:
    plugin = PLUGINS_FOUND[plugin_id]
    meta = {"arguments": {"input": {"name": "example.com"}}}
    return {
        "kind": "boefje",
        "code": str(plugin.code),
        "folder": str(plugin.path),
        "env": {},
        "memory": 512,
        "argument": meta,
    }


def _write_plugin(folder: Path, code: str) -> Path:
    """A boefje folder of a test's own: ``main.py`` holding ``code``."""
    folder.mkdir()
    (folder / "main.py").write_text(code)
    return folder


@pytest.fixture
def handoff():
    """A folder the job's process can write, to hand the test a pid or a path: under
    root, jobs run as ``nobody``, which cannot reach ``tmp_path`` (below a 0700 folder)."""
    folder = Path(tempfile.mkdtemp(prefix="kat-test-handoff-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _request_for(plugin: Path, **extra: Any) -> dict:
    """A sandbox request that runs ``plugin/main.py`` (``extra`` overrides fields)."""
    return {**_request("noop"), "code": str(plugin / "main.py"), "folder": str(plugin), **extra}


def test_a_dead_helper_is_replaced_and_the_next_job_runs():
    server = ForkServer()
    try:
        assert server.run(_request("noop"), b"", 10).raws[0][1] == b"example.com"
        helper = server._proc
        os.kill(helper.pid, signal.SIGKILL)
        helper.wait()
        outcome = server.run(_request("noop"), b"", 10)
        assert outcome.ok and server._proc.pid != helper.pid
    finally:
        server.stop()


def test_a_child_that_forges_its_outcome_fails_only_its_job(tmp_path):
    plugin = _write_plugin(
        tmp_path / "forger",
        "import os\n"
        "def run(meta):\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            os.write(fd, b'\\x00\\x00\\x00\\x05junk!')\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n",
    )
    request = _request_for(plugin)
    server = ForkServer()
    try:
        outcome = server.run(request, b"", 10)
        assert not outcome.ok and outcome.reason is FailureReason.CRASHED
        assert server.run(_request("noop"), b"", 10).ok
    finally:
        server.stop()


def test_a_job_whose_message_cannot_be_sent_is_not_left_queued(runtime, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(runtime.actors.broker, "enqueue", broker_down)
    before = len(runtime.store.list_jobs(plugin="noop", limit=10_000))
    with pytest.raises(ConnectionError):
        runtime.actors.enqueue_boefje("acme", "noop", "Hostname|internet|example.com")
    assert len(runtime.store.list_jobs(plugin="noop", limit=10_000)) == before


def test_a_child_streaming_past_its_memory_limit_is_cut_off(tmp_path):
    plugin = _write_plugin(
        tmp_path / "streamer",
        "import os\n"
        "def run(meta):\n"
        "    block = b'x' * (1 << 20)\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            for _ in range(200):\n"
        "                os.write(fd, block)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return []\n",
    )
    request = _request_for(plugin, memory=128)
    server = ForkServer()
    try:
        outcome = server.run(request, b"", 30)
        assert not outcome.ok and outcome.reason is FailureReason.BAD_OUTPUT
        assert "past its memory limit" in outcome.detail
        assert server.run(_request("noop"), b"", 10).ok
    finally:
        server.stop()


def test_a_child_works_in_a_scratch_folder_that_is_removed_after(tmp_path):
    plugin = _write_plugin(
        tmp_path / "writer",
        "import os\n"
        "def run(meta):\n"
        "    open('left-behind.txt', 'w').write('x')\n"
        "    return [({'text/plain'}, os.getcwd())]\n",
    )
    request = _request_for(plugin)
    server = ForkServer()
    try:
        outcome = server.run(request, b"", 10)
    finally:
        server.stop()
    scratch = outcome.raws[0][1].decode()
    assert scratch != os.getcwd() and not os.path.exists(scratch)


def test_a_helper_dying_mid_job_fails_the_attempt_and_takes_the_child_along(tmp_path, handoff):
    plugin = _write_plugin(
        tmp_path / "sleeper",
        "import os, time\n"
        "def run(meta):\n"
        "    open(os.environ['PIDFILE'], 'w').write(str(os.getpid()))\n"
        "    time.sleep(30)\n",
    )
    pidfile = handoff / "child.pid"
    request = _request_for(plugin, env={"PIDFILE": str(pidfile)})
    server = ForkServer()
    server.start()
    helper = server._proc.pid

    def kill_helper_once_the_job_runs() -> None:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(helper, signal.SIGKILL)

    threading.Thread(target=kill_helper_once_the_job_runs).start()
    try:
        with pytest.raises(SandboxError, match="helper died"):
            server.run(request, b"", 60)
        child = int(pidfile.read_text())
        for _ in range(100):  # killed at once; reaped by init soon after
            try:
                if Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()[0] == "Z":
                    break
            except FileNotFoundError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the job's child {child} outlived its helper")
        assert server.run(_request("noop"), b"", 10).ok  # a new helper takes over
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        ("boefje", {"ok": True, "raws": [{"mime_types": "text/plain", "size": "big"}]}),
        ("boefje", {"ok": True, "raws": 5}),
        ("boefje", {"ok": True, "raws": [{"mime_types": [1], "size": 0}]}),
        ("boefje", {"ok": True, "raws": [{"mime_types": [], "size": -1}]}),
        ("normalizer", {"ok": True, "objects": [1, {"object_type": "Hostname"}]}),
        ("normalizer", {"ok": True, "objects": {"object_type": "x", "primary_key": "y"}}),
    ],
)
def test_a_well_formed_but_forged_outcome_is_bad_output_not_a_worker_error(tmp_path, kind, header):
    """A plugin can write its own outcome to the pipe; whatever it says, the worker
    must not raise (an exception is taken for a broken sandbox and retried)."""
    plugin = _write_plugin(
        tmp_path / "forger",
        "import json, os, struct\n"
        f"HEADER = json.dumps({header!r}).encode()\n"
        "def run(*args):\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            os.write(fd, struct.pack('!I', len(HEADER)) + HEADER)\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n",
    )
    request = _request_for(plugin, kind=kind)
    server = ForkServer()
    try:
        outcome = server.run(request, b"", 10)
        assert not outcome.ok and outcome.reason is FailureReason.BAD_OUTPUT
        assert server.run(_request("noop"), b"", 10).ok
    finally:
        server.stop()


def test_a_childs_output_takes_no_disk_and_its_tail_is_kept(tmp_path):
    """A plugin printing in a loop until its timeout must not fill the disk: only the
    tail of its output is kept, so none of it needs to be written to a file."""
    plugin = _write_plugin(
        tmp_path / "flood",
        "import os, sys\n"
        "def run(meta):\n"
        "    line = 'x' * 1023 + '\\n'\n"
        "    for _ in range(64 * 1024):\n"
        "        sys.stdout.write(line)\n"
        "    sys.stdout.flush()\n"
        "    st = os.fstat(1)\n"
        "    print('the last line')\n"
        "    raise RuntimeError(f'stdout takes {st.st_blocks * 512} bytes of disk')\n",
    )
    request = _request_for(plugin)
    server = ForkServer()
    try:
        outcome = server.run(request, b"", 30)
    finally:
        server.stop()
    assert not outcome.ok and outcome.reason is FailureReason.CRASHED
    assert "stdout takes 0 bytes of disk" in outcome.detail
    assert len(outcome.output) <= 4096
    assert outcome.output.endswith(b"x\nthe last line\n")


def test_a_worker_killed_mid_job_leaves_no_scratch_folder(tmp_path, handoff):
    """A worker process that dies (SIGKILL, or stopped past its grace period) never
    reaches its cleanup; the job helper, which kills the job, removes its folder."""
    plugin = _write_plugin(
        tmp_path / "squatter",
        "import os, time\n"
        "def run(meta):\n"
        "    open('download.bin', 'wb').write(b'x' * 4096)\n"
        "    open(os.environ['CWDFILE'], 'w').write(os.getcwd())\n"
        "    time.sleep(60)\n",
    )
    cwdfile = handoff / "cwd"
    request = _request_for(plugin, env={"CWDFILE": str(cwdfile)})
    worker = subprocess.Popen(
        [sys.executable, "-c", "import json, sys; from kat.runtime.sandbox import ForkServer; "
         "ForkServer().run(json.loads(sys.argv[1]), b'', 60)", json.dumps(request)],
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        for _ in range(200):
            if cwdfile.exists() and cwdfile.read_text():
                break
            time.sleep(0.05)
        scratch = Path(cwdfile.read_text())
        assert (scratch / "download.bin").exists()
        worker.kill()
        worker.wait()
        for _ in range(100):
            if not scratch.exists():
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"{scratch} outlived its job")
    finally:
        worker.kill()
        worker.wait()


def test_a_setting_no_environment_can_hold_is_invalid_settings_naming_it():
    """A NUL byte cannot go into an environment variable: the child would die setting
    up, as "crashed" without a word; it is the setting's fault, so say which."""
    plugin = PLUGINS_FOUND["env-dump"]
    with pytest.raises(InvalidSettings, match="API_TOKEN: contains a NUL") as caught:
        boefje_environment(plugin, {}, {"API_TOKEN": "se\x00cret", "RETRIES": 3})
    assert "se\x00cret" not in str(caught.value)
    with pytest.raises(InvalidSettings, match="API_TOKEN: is not valid text"):
        boefje_environment(plugin, {}, {"API_TOKEN": "\ud800", "RETRIES": 3})


def test_a_limit_too_large_for_the_clock_means_no_limit_not_an_error():
    """A manifest's ``"timeout": 1e10`` (or KAT_JOB_TIMEOUT) meant as "no limit" must
    not make every job an error of the sandbox, retried and given up on."""
    server = ForkServer()
    try:
        for timeout in (1e10, float("inf")):
            outcome = server.run(_request("noop"), b"", timeout)
            assert outcome.ok and outcome.raws[0][1] == b"example.com"
    finally:
        server.stop()


def test_waits_shorter_than_the_limit_neither_kill_early_nor_late(monkeypatch):
    import kat.runtime.sandbox

    monkeypatch.setattr(kat.runtime.sandbox, "MAX_WAIT", 0.2)
    server = ForkServer()
    try:
        slow = {**_request("slow"), "env": {"SLEEP": "1"}}
        assert server.run(slow, b"", 10).ok
        started = time.monotonic()
        outcome = server.run({**_request("slow"), "env": {"SLEEP": "30"}}, b"", 0.7)
        assert outcome.reason is FailureReason.TIMEOUT
        # not before the limit; after it, no later than a busy machine explains (the
        # plugin itself would sleep 30 s)
        assert 0.7 <= time.monotonic() - started < 0.7 + 1.5
    finally:
        server.stop()


HARD_LIMITED_WORKER = """
import json, sys
from kat.runtime.sandbox import ForkServer
server = ForkServer()
outcome = server.run(json.loads(sys.argv[1]), b"", 10)
server.stop()
print(json.dumps([outcome.ok, outcome.detail, [raw.decode() for _m, raw in outcome.raws]]))
"""


def _hard_address_limit() -> None:
    """In the worker: a hard RLIMIT_AS (ulimit -v, systemd's LimitAS=) it cannot raise."""
    import ctypes
    import resource

    ctypes.CDLL(None).prctl(24, 24, 0, 0, 0)  # PR_CAPBSET_DROP CAP_SYS_RESOURCE (root)
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.mark.parametrize(
    ("memory", "hard_limit", "expected"),
    [(512, False, (1 << 29, 1 << 31)), (1 << 50, False, (1 << 62, 1 << 63)),
     (8192, True, (4 << 30, (4 << 30) + 1))],
)  # fmt: skip
def test_a_memory_limit_above_what_the_worker_may_grant_is_capped(
    tmp_path, memory, hard_limit, expected
):
    """A limit the child cannot set killed it while setting up: every job of the plugin
    "crashed" without a word. The child gets what the worker may grant instead."""
    plugin = _write_plugin(
        tmp_path / "limits",
        "import resource\n"
        "def run(meta):\n"
        "    return [({'text/plain'}, str(resource.getrlimit(resource.RLIMIT_AS)[0]))]\n",
    )
    request = _request_for(plugin, memory=memory)
    done = subprocess.run(
        [sys.executable, "-c", HARD_LIMITED_WORKER, json.dumps(request)],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=30,
        preexec_fn=_hard_address_limit if hard_limit else None,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ok, detail, raws = json.loads(done.stdout)
    assert ok, detail
    assert expected[0] <= int(raws[0]) < expected[1]


ENVIRON_READER = """
import os
from pathlib import Path
from typing import Any

def run(meta):
    found = {}
    pid = os.getppid()  # the job helper; above it the worker, and so on
    while pid > 1:
        try:
            found[pid] = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        except OSError as exc:
            found[pid] = type(exc).__name__
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return [({"text/plain"}, repr(found))]
"""


def _as_a_deployment_runs(
    worker: str, argument: str, env: dict, root: Path
) -> subprocess.CompletedProcess:
    """Run ``worker`` as a user without privileges, as a deployment does: root may read
    any process's /proc/PID/environ whatever it does. As root, that is ``nobody`` with
    a Python it can run (kat's own modules need only the standard library), importing
    kat from ``root``: a copy it can read wherever the repository was cloned."""
    command = [sys.executable, "-c", worker, argument]
    run = functools.partial(
        subprocess.run, capture_output=True, text=True, timeout=30,
        cwd=root, env={**env, "PYTHONPATH": str(root)},
    )  # fmt: skip
    if os.geteuid() != 0:
        return run(command)
    nobody = functools.partial(run, user=65534, group=65534)
    for python in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        with contextlib.suppress(OSError):
            if python and nobody([python, "-c", "import kat.runtime.sandbox"]).returncode == 0:
                return nobody([python, *command[1:]])
    pytest.fail("no Python that user nobody can run, so the check cannot be made")


def test_a_plugin_cannot_read_the_workers_environment_through_proc():
    """The worker holds the host's secrets (KATALOGUS_PRIVATE_KEY, the broker password)
    in its environment; a plugin running as the same user must not read them from
    /proc/<worker>/environ."""
    root = Path(tempfile.mkdtemp(prefix="kat-test-"))
    try:
        shutil.copytree(
            Path(__file__).parents[2] / "kat", root / "kat",
            ignore=shutil.ignore_patterns("__pycache__"),
        )  # fmt: skip
        plugin = root / "plugin"
        plugin.mkdir()
        (plugin / "main.py").write_text(ENVIRON_READER)
        for path in (root, *root.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        request = _request_for(plugin)
        done = _as_a_deployment_runs(
            HARD_LIMITED_WORKER,
            json.dumps(request),
            {**os.environ, "HOST_ONLY_SECRET": "no-leak"},
            root,
        )
    finally:
        shutil.rmtree(root)
    assert done.returncode == 0, done.stderr
    ok, detail, raws = json.loads(done.stdout)
    assert ok, detail
    assert "no-leak" not in raws[0]
    assert "PermissionError" in raws[0]  # the worker's environ, refused


def test_forked_children_share_the_jobs_memory_limit(tmp_path):
    """RLIMIT_AS holds each process alone; the job's supervisor holds them together."""
    plugin = _write_plugin(
        tmp_path / "forks",
        "import os, time\n"
        "def run(meta):\n"
        "    pids = []\n"
        "    for _ in range(4):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            block = b'x' * (100 << 20)\n"
        "            time.sleep(10)\n"
        "            os._exit(0)\n"
        "        pids.append(pid)\n"
        "    return [({'text/plain'}, str([os.waitpid(p, 0)[1] for p in pids]))]\n",
    )
    server = ForkServer()
    try:
        outcome = server.run(_request_for(plugin, memory=256), b"", 30)
        assert not outcome.ok and outcome.reason is FailureReason.MEMORY, outcome
        assert "together held more than its limit of 256 MiB" in outcome.detail
        assert outcome.duration < 10  # killed, not waited for
        assert server.run(_request("noop"), b"", 10).ok
    finally:
        server.stop()


def test_a_setsid_grandchild_is_killed_when_its_job_ends(tmp_path):
    plugin = _write_plugin(
        tmp_path / "daemon",
        "import os, time\n"
        "def run(meta):\n"
        "    r, w = os.pipe()\n"
        "    if os.fork() == 0:\n"
        "        if os.fork() == 0:\n"
        "            os.setsid()\n"
        "            os.write(w, str(os.getpid()).encode())\n"
        "            time.sleep(60)\n"
        "        os._exit(0)\n"
        "    os.close(w)\n"
        "    return [({'text/plain'}, os.read(r, 32))]\n",
    )
    server = ForkServer()
    try:
        outcome = server.run(_request_for(plugin), b"", 30)
    finally:
        server.stop()
    assert outcome.ok, outcome
    grandchild = int(outcome.raws[0][1])
    for _ in range(100):
        try:
            if Path(f"/proc/{grandchild}/stat").read_text().split(")")[-1].split()[0] == "Z":
                break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        os.kill(grandchild, signal.SIGKILL)
        raise AssertionError(f"grandchild {grandchild} outlived its job")


def test_64_threads_start_under_the_default_memory_limit(tmp_path):
    plugin = _write_plugin(
        tmp_path / "threads",
        "import threading\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "def run(meta):\n"
        "    barrier = threading.Barrier(64, timeout=20)\n"
        "    with ThreadPoolExecutor(64) as pool:\n"
        "        done = list(pool.map(lambda i: barrier.wait() >= 0, range(64)))\n"
        "    return [({'text/plain'}, str(sum(done)))]\n",
    )
    server = ForkServer()
    try:
        outcome = server.run(_request_for(plugin, memory=1024), b"", 30)
    finally:
        server.stop()
    assert outcome.ok, (outcome.detail, outcome.output)
    assert outcome.raws[0][1] == b"64"


def test_the_job_user_must_exist_and_needs_root_to_differ():
    from kat.config import ConfigError
    from kat.runtime import isolation

    with pytest.raises(ConfigError, match="KAT_JOB_USER='no-such-user-here': no such user"):
        isolation.resolve("no-such-user-here")
    assert isolation.resolve(None) is None
    assert isolation.resolve(str(os.geteuid())) is None  # oneself: nothing to switch
    if os.geteuid() == 0:
        assert isolation.resolve("nobody") == (65534, 65534)
    else:
        with pytest.raises(ConfigError, match="only a worker running as root"):
            isolation.resolve("0")


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to the job user needs root")
def test_the_helper_finds_the_import_folders_the_job_user_cannot_reach():
    from kat.runtime import isolation

    closed, reachable = tempfile.mkdtemp(), tempfile.mkdtemp()
    try:
        os.chmod(closed, 0o700)
        os.chmod(reachable, 0o755)
        user = isolation.resolve("nobody")
        # Only the closed folder gets a route; the probe ran as the job user, not root.
        assert isolation._unreachable(user, [closed, reachable]) == [closed]
        assert isolation._unreachable(user, [reachable]) == []
    finally:
        os.rmdir(closed)
        os.rmdir(reachable)
