"""The operate tests' harness: a system of one's own (catalogue, store, queues) and the
`kat` command and workers as real processes.

Every system gets a unique ``KAT_QUEUE_PREFIX``, so it never takes messages from a
running kat or another test on the shared RabbitMQ; its queues are deleted at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kat import config
from kat.catalogue import Catalogue
from kat.store import Store, open_store
from tests.broker import delete_queues
from tests.database import store_url

ROOT = Path(__file__).parents[2]
PLUGINS = Path(__file__).parent / "plugins"


@dataclass
class System:
    root: Path
    env: dict[str, str]
    catalogue: Catalogue
    workers: list[Workers] = field(default_factory=list)

    @property
    def settings(self) -> config.Settings:
        return config.load(self.env)

    def store(self) -> Store:
        return open_store(self.settings.database_url)

    def kat(self, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
        """Run ``python -m kat ARGS`` with this system's environment."""
        return subprocess.run(
            [sys.executable, "-m", "kat", *args],
            env={**os.environ, **self.env, **env},
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def kat_json(self, *args: str) -> object:
        done = self.kat(*args, "--json")
        assert done.returncode in (0, 1), done.stderr
        return json.loads(done.stdout)

    def start_workers(self, kinds: tuple[str, ...] = ("boefje", "normalizer"), **env: str):
        log = self.root / f"workers-{len(self.workers)}.log"
        self.workers.append(Workers(self, log, kinds, **env))
        return self.workers[-1]

    def stop(self) -> None:
        for workers in self.workers:
            workers.stop()
        delete_queues(self.settings)


def make_system(root: Path, plugins: Path = PLUGINS, **extra: str) -> System:
    env = {
        "KAT_PLUGINS_DIR": str(plugins),
        "KAT_CATALOGUE_DIR": str(root / "catalogue"),
        "KAT_DATA_DIR": str(root / "data"),
        "KAT_DATABASE_URL": store_url(root),
        "KAT_QUEUE_PREFIX": f"kat-op-{uuid.uuid4().hex[:8]}-",
        "KAT_JOB_TIMEOUT": "60",
        "KAT_SHUTDOWN_GRACE": "1",  # idle workers of a test stop sooner
        **extra,
    }
    for name in ("KAT_METRICS_PORT", "KATALOGUS_API", "BYTES_ENCRYPTION_MIDDLEWARE"):
        env.setdefault(name, "")
    catalogue = Catalogue.from_settings(config.load(env))
    catalogue.create_organisation("acme", "Acme")
    return System(root, env, catalogue)


class Workers:
    """``python -m kat boefje`` and ``python -m kat normalizer``, one process group each."""

    def __init__(self, system: System, log: Path, kinds: tuple[str, ...], **env: str):
        self.log, self.kinds = log, kinds
        self.procs = []
        full_env = {**os.environ, **system.env, **env}
        for kind in kinds:
            with open(log.with_suffix(f".{kind}.log"), "wb") as out:
                self.procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "kat",
                            kind,
                            "--processes",
                            "1",
                            "--threads",
                            "2",
                            "--log-level",
                            "INFO",
                        ],
                        env=full_env,
                        cwd=system.root,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )  # fmt: skip
                )
        self._wait_ready()

    def logs(self) -> str:
        return "".join(self.log.with_suffix(f".{kind}.log").read_text() for kind in self.kinds)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise AssertionError(f"worker exited: {self.logs()}")
            if self.logs().count("Worker process is ready for action") >= len(self.kinds):
                return
            time.sleep(0.05)
        raise AssertionError(f"workers not ready: {self.logs()}")

    def terminate(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 30) -> None:
        self.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
