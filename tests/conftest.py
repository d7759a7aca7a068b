"""Suite-wide settings.

Hypothesis explores new examples on every run on a developer's machine, which is how
it finds bugs; under CI (``CI`` set) it runs a fixed set of examples, so the same tree
gives the same verdict and a red run is reproducible.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_sessionfinish(session, exitstatus):
    """Drop this run's PostgreSQL database, if the run made one."""
    from tests.database import drop_run_database

    drop_run_database()


def pytest_report_header(config):
    from tests.database import BACKEND

    return f"kat store backend: {BACKEND} (KAT_TEST_STORE)"
