"""Suite-wide settings.

Hypothesis explores new examples on every run on a developer's machine, which is how
it finds bugs; under CI (``CI`` set) it runs a fixed set of examples, so the same tree
gives the same verdict and a red run is reproducible.

The fast tier, ``pytest -m "not e2e"`` (see ``tests/tiers.py``), runs on two
pytest-xdist workers (``-n 2``; ``KAT_TEST_WORKERS`` sets another number, ``-n 0`` on
the command line runs it in one process), and each property test there runs a third of
its examples. Its tests need no RabbitMQ, PostgreSQL, gunicorn or worker processes and
keep to their own temp folders and ports, so they may run side by side. Every other
selection, ``make test`` included, runs in one process with every example.
"""

import os

import pytest
from hypothesis import settings

from tests.tiers import examples, is_fast_tier

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: Workers for the fast tier (the machines it is sized for have two cores).
FAST_TIER_WORKERS = 2


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Spread the fast tier over xdist workers unless the command line chose ``-n``.

    Runs before xdist's own ``pytest_cmdline_main``, which turns ``numprocesses``
    into worker processes."""
    if (
        not is_fast_tier(config)
        or not config.pluginmanager.hasplugin("xdist")
        or config.option.numprocesses is not None
        or config.option.collectonly
        or config.getoption("usepdb", False)
        or os.environ.get("PYTEST_XDIST_WORKER")
    ):
        return
    config.option.numprocesses = int(os.environ.get("KAT_TEST_WORKERS", FAST_TIER_WORKERS))


def pytest_collection_modifyitems(config, items):
    """In the fast tier, each ``@given`` test (schemathesis' too) runs its share of its
    examples (:func:`tests.tiers.examples`); elsewhere they are left as they are."""
    if not is_fast_tier(config):
        return
    done = set()
    for item in items:
        test = getattr(item, "obj", None)
        chosen = getattr(test, "_hypothesis_internal_use_settings", None)
        if chosen is None or id(test) in done:
            continue
        done.add(id(test))  # parametrized items share one test function
        test._hypothesis_internal_use_settings = settings(
            chosen, max_examples=examples(config, chosen.max_examples)
        )


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes():
    """Console users' passwords hashed with argon2id at its lowest cost in this process.

    The console's hasher uses argon2-cffi's defaults (64 MiB, 3 passes: about 0.2 s of
    CPU for each login and each user added), which is the point in production and only
    slows the tests, which check who may log in, not how hard a hash is to crack. The
    ``kat user`` commands the tests run as processes keep the real parameters."""
    from argon2 import PasswordHasher

    from kat.console import users

    saved = users._hasher, users._DUMMY
    users._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    users._DUMMY = users._hasher.hash("not a password of anyone")
    yield
    users._hasher, users._DUMMY = saved


def pytest_sessionfinish(session, exitstatus):
    """Drop this run's PostgreSQL database, if the run made one."""
    from tests.database import drop_run_database

    drop_run_database()


def pytest_report_header(config):
    from tests.database import BACKEND

    lines = [f"kat store backend: {BACKEND} (KAT_TEST_STORE)"]
    if is_fast_tier(config):
        lines.append(f"kat fast tier: property tests run {examples(config, 30)} of 30 examples")
    return lines
