"""A plugin SIGKILLs its own Dramatiq worker process: it must not be able to.

A killed worker process makes Dramatiq stop the whole worker service. Jobs run as
another user than a root worker, so the signal is refused.
"""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: jobs run as another user only then")
def test_a_plugin_cannot_kill_its_worker_process(hostile, service):
    before = service.worker_pids()
    job = hostile.wait(hostile.boefje("alpha", "kill-worker"))
    assert job["status"] == "completed", job
    target, result = json.loads(hostile.raw(job))
    assert target in before  # it found its worker process ...
    assert result == "PermissionError"  # ... and was refused
    hostile.ordinary_job_completes(service)
    assert service.worker_pids() == before
