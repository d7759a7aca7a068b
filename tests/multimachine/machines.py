"""Simulated machines: the central server (gunicorn: KATalogus + data API on
PostgreSQL) and worker machines that get only the broker, the KATalogus API and the
data API, each in a folder of its own that it must leave empty."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


class Machine:
    """Processes started in one process group, with exactly ``env`` (plus PATH, HOME)."""

    def __init__(self, name: str, folder: Path, env: dict[str, str], argv: list[str]):
        self.name, self.folder, self.env, self.argv = name, folder, env, argv
        self.folder.mkdir(parents=True, exist_ok=True)
        self.starts = 0
        #: Every process the machine ran (recorded before it stops).
        self.seen_pids: set[int] = set()
        self.proc: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.folder.parent / f"{self.name}-{self.starts}.log"

    def start(self) -> Machine:
        self.starts += 1
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env={"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(self.folder), **self.env},
                cwd=self.folder, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, marker: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.text():
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.text()}"
            assert time.monotonic() < deadline, f"{self.name} not ready:\n{self.text()}"
            time.sleep(0.2)

    def wait_healthy(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.text()}"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{self.name} not healthy:\n{self.text()}"
            time.sleep(0.2)

    def pids(self) -> set[int]:
        """The live processes of the machine (its process group)."""
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if self.proc is not None and int(fields[2]) == self.proc.pid:
                found.add(int(stat.parent.name))
        return found

    def kill(self) -> None:
        """SIGKILL to every process of the machine (as a power cut would)."""
        self.seen_pids |= self.pids()
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        self.seen_pids |= self.pids()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.kill()


def gunicorn(folder: Path, env: dict[str, str]) -> Machine:
    argv = [
        str(BIN / "gunicorn"),
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "kat.katalogus.app:get_app()",
    ]
    return Machine("central", folder, env, argv)


def worker(
    name: str, folder: Path, env: dict[str, str], kind: str, prefix: list[str] | None = None
) -> Machine:
    """A worker machine; ``prefix``: e.g. ``ip netns exec NAME`` to run in a namespace."""
    argv = [*(prefix or []), sys.executable, "-m", "kat", kind, "--processes", "1",
            "--log-level", "INFO"]  # fmt: skip
    return Machine(name, folder, env, argv)


def leftovers(folder: Path) -> list[str]:
    """Files a worker machine left in its folder (it should keep no state)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
