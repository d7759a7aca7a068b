"""The hostile suite's harness: a system of its own, one plugin per attack, real workers.

Each attack runs as a boefje (or normalizer) job through RabbitMQ and a real
``dramatiq kat.actors`` worker service; after it, an ordinary job must complete on the
same service. Jobs are sent by a small long-lived ``kat.actors`` process of the
system's own (:class:`Sender`), so this suite never reloads ``kat.actors`` in the test
process (the runtime tests do, for theirs).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kat import config
from kat.catalogue import Catalogue, sealing
from kat.store import Store, open_store
from tests.broker import delete_queues
from tests.database import store_url
from tests.runtime.runtime_harness import ROOT, Workers

PLUGINS = Path(__file__).parent / "plugins"
REF = "Hostname|internet|example.com"
#: Organisations of the hostile system, each with a sealed marker setting of its own.
ORGANISATIONS = ("alpha", "beta")

SENDER = """
import json, sys
import kat.actors as actors
for line in sys.stdin:
    kind, args = json.loads(line)
    try:
        send = actors.enqueue_boefje if kind == "boefje" else actors.enqueue_normalizer
        print(json.dumps([send(*args), None]), flush=True)
    except Exception as exc:
        print(json.dumps([None, repr(exc)]), flush=True)
"""


class Sender:
    """``enqueue_boefje`` / ``enqueue_normalizer`` in a process with the system's env."""

    def __init__(self, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SENDER], env={**os.environ, **env}, cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def send(self, kind: str, *args: str) -> str:
        self.proc.stdin.write(json.dumps([kind, args]) + "\n")
        self.proc.stdin.flush()
        ident, error = json.loads(self.proc.stdout.readline())
        assert error is None, error
        return ident

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


@dataclass
class System:
    env: dict[str, str]
    settings: config.Settings
    catalogue: Catalogue
    store: Store
    sender: Sender
    markers: dict[str, str]  #: organisation -> its sealed MARKER setting
    services: list[Workers] = field(default_factory=list)

    def start(self, log: Path, **env: str) -> Workers:
        """A worker service (one Dramatiq process, four threads) for this system."""
        service = Workers(self, log, processes=1, **env)
        self.services.append(service)
        return service

    def boefje(self, org: str, plugin: str) -> str:
        return self.sender.send("boefje", org, plugin, REF)

    def normalizer(self, org: str, plugin: str, raw_id: str) -> str:
        return self.sender.send("normalizer", org, plugin, raw_id)

    def wait(self, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """The job once it has ended (fails the test after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        job = None
        while time.monotonic() < deadline:
            found = self.store.get_job(job_id)
            if found and found.ended:
                return found.to_dict()
            job = found
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not end within {timeout} s: {job}")

    def ordinary_job_completes(self, service: Workers, timeout: float = 60.0) -> dict:
        """An ordinary job, after an attack: completed, on the same worker service."""
        assert service.proc.poll() is None, service.log.read_text()[-3000:]
        job = self.wait(self.boefje("alpha", "noop"), timeout)
        assert job["status"] == "completed", job
        return job

    def raw(self, job: dict) -> bytes:
        (raw,) = self.store.raws_for(job["id"])
        return self.store.get_raw(raw.id).data

    def stop(self) -> None:
        for service in self.services:
            service.stop()
        self.sender.close()
        delete_queues(self.settings)


def make_system(root: Path, **extra: str) -> System:
    public, private = sealing.generate()
    env = {
        "KAT_PLUGINS_DIR": str(PLUGINS),
        "KAT_CATALOGUE_DIR": str(root / "catalogue"),
        "KAT_DATA_DIR": str(root / "data"),
        "KAT_DATABASE_URL": store_url(root),
        "KAT_QUEUE_PREFIX": f"kat-hostile-{uuid.uuid4().hex[:8]}-",
        "KAT_JOB_TIMEOUT": "60",
        "KAT_METRICS_PORT": "",
        "KATALOGUS_API": "",
        "BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX",
        "KATALOGUS_PUBLIC_KEY": public,
        "KATALOGUS_PRIVATE_KEY": private,
        **extra,
    }
    settings = config.load(env)
    catalogue = Catalogue.from_settings(settings)
    markers = {}
    for org in ORGANISATIONS:
        catalogue.create_organisation(org, org.title())
        # Secrets of different lengths, as real tokens are: a freed string is then not
        # simply overwritten by the next organisation's string of the same size.
        markers[org] = f"kat-marker-{org}-{secrets.token_hex(16 if org == 'alpha' else 4)}"
        catalogue.put_setting(org, "memory-scan", "MARKER", markers[org])
    store = open_store(settings.database_url)
    return System(env, settings, catalogue, store, Sender(env), markers)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False
