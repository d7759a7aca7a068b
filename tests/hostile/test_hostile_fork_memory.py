"""Four forked children of 900 MB each under a 1 GiB job limit: the limit is the
job's, not each process's, so the job fails as ``memory``."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_forked_children_share_the_jobs_memory_limit(hostile, service):
    assert hostile.settings.job_memory == 1024  # the default limit
    job = hostile.wait(hostile.boefje("alpha", "fork-memory"))
    assert (job["status"], job["reason"]) == ("failed", "memory"), job
    hostile.ordinary_job_completes(service)
