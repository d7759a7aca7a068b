"""How the KATalogus server exposes itself: loopback only without a token, the addresses
it really listens on, and no process of it readable by a plugin of the same user."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from kat.catalogue.sealing import generate
from kat.katalogus.safety import bind_refusal, is_loopback
from tests.katalogus.conftest import ROOT, free_port, write_catalogue, write_plugins

NOBODY = 65534


def gunicorn_command() -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")] + [
        "kat.katalogus.app:get_app()"
    ]


def clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("KAT", "BYTES", "BOEF"))}
    return {**keep, **extra}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("", False), ("::", False),
     ("192.0.2.1", False)],
)  # fmt: skip
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_a_token_or_the_explicit_flag_allows_another_address():
    exposed = [("0.0.0.0:8003", "0.0.0.0")]
    assert "KATALOGUS_API_TOKEN" in bind_refusal(exposed, None, False)
    assert bind_refusal(exposed, "t0ken", False) is None
    assert bind_refusal(exposed, None, True) is None
    assert bind_refusal([("127.0.0.1:8003", "127.0.0.1")], None, False) is None


@pytest.mark.e2e
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("bind", "how"),
    [("0.0.0.0", "KATALOGUS_BIND"), ("[::]", "KATALOGUS_BIND"), ("0.0.0.0", "--bind")],
)
def test_the_server_refuses_a_non_loopback_bind_without_a_token(env, tmp_path, bind, how):
    address = f"{bind}:{free_port()}"
    extra = {"KATALOGUS_BIND": address}
    if how == "--bind":
        extra = {"KATALOGUS_BIND": f"127.0.0.1:{free_port()}", "GUNICORN_CMD_ARGS": f"-b {address}"}
    done = subprocess.run(
        gunicorn_command(),
        env=clean_env(**env, **extra),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert f"KATalogus: refusing to listen on {address} without KATALOGUS_API_TOKEN" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr and "Booting worker" not in done.stderr


def test_the_default_address_is_loopback():
    from kat.config import load

    assert load({}).katalogus_bind == "127.0.0.1:8003"
    assert load({"KAT_ALLOW_INSECURE_BIND": "1"}).allow_insecure_bind is True
    with pytest.raises(ValueError, match="KAT_ALLOW_INSECURE_BIND"):
        load({"KAT_ALLOW_INSECURE_BIND": "maybe"})


@pytest.mark.e2e
@pytest.mark.timeout(60)
def test_the_listening_line_names_the_real_address(env, gunicorn):
    server = gunicorn(env, workers=2)
    log = server.log.read_text()
    line = next(x for x in log.splitlines() if "Listening at:" in x)
    assert f"Listening at: http://127.0.0.1:{server.port} ({server.proc.pid})" in line


ENVIRON_READER = """
import json, sys
found = {}
for pid in sys.argv[1:]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            found[pid] = handle.read().decode(errors="replace")
    except OSError as exc:
        found[pid] = type(exc).__name__
print(json.dumps(found))
"""


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@contextlib.contextmanager
def _traversable(path: Path):
    """Let other users pass through the folders above ``path`` for the block (a checkout
    in a private 0700 folder, as ``mktemp -d`` makes one), then restore their modes."""
    changed = []
    for folder in reversed(Path(path).resolve().parents):
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)
            changed.append((folder, mode))
    try:
        yield
    finally:
        for folder, mode in reversed(changed):
            folder.chmod(mode)


def _python_for_nobody(root: Path, as_nobody: dict) -> tuple[str, str]:
    """A Python that user ``nobody`` can run with kat (copied into ``root``) and its
    dependencies: this one, or the system's with this one's site-packages."""
    import site

    imports = "import gunicorn, falcon, nacl.public, yaml, watchfiles, kat.katalogus.app"
    tried = []
    for python, extra in (
        (sys.executable, []),
        (shutil.which("python3", path="/usr/bin:/bin") or "", site.getsitepackages()),
    ):
        path = os.pathsep.join([str(root), *extra])
        with contextlib.suppress(OSError):
            probe = subprocess.run(
                [python, "-c", imports], env=clean_env(PYTHONPATH=path),
                capture_output=True, text=True, timeout=60, **as_nobody,
            )  # fmt: skip
            if probe.returncode == 0:
                return python, path
            tried.append(f"{python}: {probe.stderr.strip()[-200:]}")
    pytest.fail(f"no Python that user nobody can run kat's server with: {tried}")


@pytest.mark.e2e
@pytest.mark.timeout(90)
def test_a_process_of_the_same_user_cannot_read_the_servers_environment():
    """A plugin running as the KATalogus' user reads /proc/<pid>/environ of any dumpable
    process of that user: the gunicorn master and workers hold KATALOGUS_PRIVATE_KEY.
    Root reads everything, so both run as ``nobody``, as a deployment would."""
    if os.geteuid() != 0:
        pytest.fail("this check starts processes as user nobody: run it as root")
    public, private = generate()
    root = Path(tempfile.mkdtemp(prefix="kat-dumpable-"))
    procs: list[subprocess.Popen] = []
    passage = _traversable(Path(sys.prefix) / "lib")  # the virtualenv's packages
    passage.__enter__()
    try:
        write_catalogue(root / "catalogue")
        write_plugins(root / "plugins")
        shutil.copytree(ROOT / "kat", root / "kat", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "gunicorn.conf.py", root)
        (root / "data").mkdir()  # the console keeps its session key here: nobody writes it
        for path in (root, *root.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (root / "data").chmod(0o777)
        as_nobody = {"user": NOBODY, "group": NOBODY, "extra_groups": [], "cwd": root}
        python, path = _python_for_nobody(root, as_nobody)
        port = free_port()
        env = clean_env(
            PYTHONPATH=path,
            KAT_CATALOGUE_DIR=str(root / "catalogue"),
            KAT_PLUGINS_DIR=str(root / "plugins"),
            KAT_DATA_DIR=str(root / "data"),
            KATALOGUS_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="2",
            BYTES_ENCRYPTION_MIDDLEWARE="NACL_SEALBOX",
            KATALOGUS_PUBLIC_KEY=public,
            KATALOGUS_PRIVATE_KEY=private,
        )
        command = [python, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
        command.append("kat.katalogus.app:get_app()")
        server = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            **as_nobody,
        )  # fmt: skip
        procs.append(server)
        # An ordinary process of the same user, holding the key the same way: the control
        # that shows the reader below does find a readable environment.
        control = subprocess.Popen(["sleep", "60"], env=env, **as_nobody)
        procs.append(control)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                if len(_children(server.pid)) == 2:
                    break
            assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        pids = [server.pid, *_children(server.pid), control.pid]
        read = subprocess.run(
            [python, "-c", ENVIRON_READER, *map(str, pids)],
            env=clean_env(), capture_output=True, text=True, timeout=30, **as_nobody,
        )  # fmt: skip
        assert read.returncode == 0, read.stderr
        found = json.loads(read.stdout)
        assert private in found.pop(str(control.pid))  # the reader works
        assert found == {str(pid): "PermissionError" for pid in pids[:-1]}
    finally:
        passage.__exit__(None, None, None)
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.e2e
@pytest.mark.timeout(60)
def test_a_cross_site_post_to_the_real_server_creates_nothing(env, gunicorn):
    """What a page on another site can make a browser send, to a KATalogus without a
    token (the default): a text/plain or form POST, with the browser's own headers."""
    import http.client

    server = gunicorn(env, workers=1)
    folder = Path(env["KAT_CATALOGUE_DIR"]) / "organisations"

    def post(path: str, body: bytes, headers: dict[str, str]) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", path, body=body, headers=headers)
        status = conn.getresponse().status
        conn.close()
        return status

    browser = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert post(
        "/v1/organisations", b'{"id": "pwned"}', {**browser, "Content-Type": "text/plain"}
    ) in (403, 415)
    form = {**browser, "Content-Type": "application/x-www-form-urlencoded"}
    assert post("/v1/organisations/_dev/settings/clone/pwned", b"", form) == 403
    assert not (folder / "pwned.yaml").exists()
    # the same write from curl or kat's own client
    assert post("/v1/organisations", b'{"id": "ok"}', {"Content-Type": "application/json"}) == 201
    assert (folder / "ok.yaml").exists()


def test_make_non_dumpable_holds_for_the_process_and_its_forks():
    code = (
        "import os, sys\n"
        "from kat.katalogus.safety import is_dumpable, make_non_dumpable\n"
        "assert is_dumpable()\n"
        "assert make_non_dumpable()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if not is_dumpable() else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "sys.exit(0 if not is_dumpable() and os.waitstatus_to_exitcode(status) == 0 else 3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
