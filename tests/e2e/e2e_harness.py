"""The end-to-end harness: the Procfile's processes under a real ``honcho start``.

honcho runs in the repository (the Procfile and ``gunicorn.conf.py`` as shipped) with an
env file of the test's own: a temporary catalogue and store, a fresh key pair, free
ports and a unique ``KAT_QUEUE_PREFIX`` on the shared RabbitMQ.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from kat import config
from tests import broker
from tests.database import store_url

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kat(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m kat ARGS`` with exactly ``env`` on top of PATH and HOME."""
    return subprocess.run(
        [sys.executable, "-m", "kat", *args],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def environment(root: Path) -> dict[str, str]:
    """The system's variables: fresh keys from ``kat keys generate``, free ports."""
    keys = kat({}, "keys", "generate")
    assert keys.returncode == 0, keys.stderr
    env = dict(line.split("=", 1) for line in keys.stdout.splitlines() if "=" in line)
    (root / "catalogue").mkdir()
    return {
        **env,
        "KAT_CATALOGUE_DIR": str(root / "catalogue"),
        "KAT_PLUGINS_DIR": str(ROOT / "plugins"),
        "KAT_DATA_DIR": str(root / "data"),
        "KAT_DATABASE_URL": store_url(root),
        "KAT_QUEUE_PREFIX": f"kat-e2e-{uuid.uuid4().hex[:8]}-",
        "KAT_JOB_TIMEOUT": "30",
        "KATALOGUS_BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "2",
        "KAT_METRICS_PORT": str(free_port()),
        "KAT_NORMALIZER_METRICS_PORT": str(free_port()),
        "KAT_SHUTDOWN_GRACE": "2",
    }


class Honcho:
    """``honcho start`` of the repository's Procfile, in its own process group."""

    def __init__(self, root: Path, env: dict[str, str], log_name: str = "honcho.log"):
        self.env = env
        self.env_file = root / ".env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        self.log = root / log_name
        self.api = f"http://{env['KATALOGUS_BIND']}"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "honcho"), "start", "--no-colour", "-f", str(ROOT / "Procfile"),
                 "-d", str(ROOT), "-e", str(self.env_file)],
                env={"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/")},
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self._wait_ready()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"honcho exited:\n{self.text()}")
            try:
                healthy = httpx.get(f"{self.api}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                healthy = False
            if healthy and self.text().count("Worker process is ready for action") >= 2:
                return
            time.sleep(0.2)
        raise AssertionError(f"system not up within {timeout} s:\n{self.text()}")

    def sigterm(self, timeout: float = 30) -> float:
        """SIGTERM to honcho alone (it stops its processes); seconds until all are gone."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        while _group_alive(self.proc.pid):
            assert time.monotonic() - started < timeout, "processes left behind"
            time.sleep(0.05)
        return time.monotonic() - started

    def kill(self) -> None:
        if _group_alive(self.proc.pid):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Zombies of the group count as gone.
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def messages_waiting(env: dict[str, str]) -> int:
    """Messages in the system's queues (boefjes, normalizers and their delay queues)."""
    return broker.messages_waiting(config.load(env))


def delete_queues(env: dict[str, str]) -> None:
    broker.delete_queues(config.load(env))
