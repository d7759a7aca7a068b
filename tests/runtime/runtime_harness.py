"""The runtime tests' harness: a catalogue, a store, queues of their own, real workers.

Every session gets a unique ``KAT_QUEUE_PREFIX`` so it never takes messages from a
developer's running kat (or another test run) on the shared RabbitMQ; its queues are
deleted at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kat import config
from kat.catalogue import Catalogue
from kat.catalogue import sealing as crypto
from kat.store import Store
from tests.database import store_url

PLUGINS = Path(__file__).parent / "plugins"
ROOT = Path(__file__).parents[2]
#: A secret value the tests seal into the catalogue and expect the boefje to receive.
TOKEN = "s3cret-token-4711"


@dataclass
class Runtime:
    env: dict[str, str]
    settings: config.Settings
    store: Store
    catalogue: Catalogue
    actors: Any  # the kat.actors module, configured for this session

    def wait(self, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The job (its JSON form) once it is completed or failed (fails the test after
        ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.store.get_job(job_id)
            if job and job.ended:
                return job.to_dict()
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not end within {timeout} s: {job}")


def _environment(root: Path) -> dict[str, str]:
    public, private = crypto.generate()
    return {
        "KAT_PLUGINS_DIR": str(PLUGINS),
        "KAT_CATALOGUE_DIR": str(root / "catalogue"),
        "KAT_DATA_DIR": str(root / "data"),
        "KAT_DATABASE_URL": store_url(root),
        "KAT_QUEUE_PREFIX": f"kat-test-{uuid.uuid4().hex[:8]}-",
        "KAT_JOB_TIMEOUT": "30",
        "BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX",
        "KATALOGUS_PUBLIC_KEY": public,
        "KATALOGUS_PRIVATE_KEY": private,
        # A plugin default (in env-dump's schema) and one no schema names.
        "BOEFJE_GREETING": "hello",
        "BOEFJE_NOT_IN_ANY_SCHEMA": "nope",
    }


def _catalogue(settings: config.Settings) -> Catalogue:
    catalogue = Catalogue.from_settings(settings)
    catalogue.create_organisation("acme", "Acme")
    catalogue.put_setting("acme", "env-dump", "API_TOKEN", TOKEN)
    catalogue.put_setting("acme", "env-dump", "RETRIES", "3")
    catalogue.create_organisation("bare", "No settings at all")
    catalogue.create_organisation("off", "Everything off")
    catalogue.set_enabled("off", "noop", False)
    return catalogue


class Workers:
    """``dramatiq kat.actors`` (or another command) as a real process group."""

    def __init__(
        self, runtime: Runtime, log: Path, *args: str, processes: int = 1, **extra_env: str
    ):
        self.log = log
        self.processes = processes
        env = {**os.environ, **runtime.env, "HOST_ONLY_SECRET": "must-not-leak", **extra_env}
        command = args or (
            sys.executable, "-m", "dramatiq", "kat.actors",
            "--processes", str(processes), "--threads", "4",
        )  # fmt: skip
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited: {self.log.read_text()}")
            if self.log.read_text().count("ready for action") >= self.processes:
                return
            time.sleep(0.05)
        raise AssertionError(f"workers not ready: {self.log.read_text()}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def job_meta(plugin: str, org: str = "acme", ref: str = "Hostname|internet|example.com") -> dict:
    return {"boefje": {"id": plugin}, "organization": org, "input_ooi": ref}
