"""A double-forked ``setsid()`` grandchild must not outlive its job."""

from __future__ import annotations

import os
import signal

import pytest
from hostile_harness import alive, gone_within

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_a_setsid_grandchild_does_not_outlive_its_job(hostile, service):
    job = hostile.wait(hostile.boefje("alpha", "double-fork"))
    assert job["status"] == "completed", job
    grandchild = int(hostile.raw(job))
    try:
        assert gone_within(grandchild, 5), f"grandchild {grandchild} outlived its job"
    finally:
        if alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)
    hostile.ordinary_job_completes(service)
