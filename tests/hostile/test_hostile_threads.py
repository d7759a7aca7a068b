"""64 threads at once under the default 1 GiB limit: an ordinary threaded plugin works."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_a_plugin_runs_64_threads_under_the_default_limit(hostile, service):
    job = hostile.wait(hostile.boefje("alpha", "threads"))
    assert job["status"] == "completed", job
    assert int(hostile.raw(job)) == 64 << 20
    hostile.ordinary_job_completes(service)
