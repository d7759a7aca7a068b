"""A catalogue with two organisations, the repository's plugins and a fresh store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kat.catalogue import Catalogue
from kat.catalogue.plugins import discover
from kat.scheduling.scheduler import Scheduler
from kat.scheduling.scope import Scopes
from kat.store import open_store
from tests.database import store_url

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def catalogue(tmp_path) -> Catalogue:
    cat = Catalogue(tmp_path / "catalogue")
    for org in ("acme", "beta"):
        cat.create_organisation(org)
    return cat


@pytest.fixture
def store(tmp_path):
    store = open_store(store_url(tmp_path))
    yield store
    store.close()


class System:
    """A scheduler over the fixtures whose ``send`` records jobs as the lifecycle would."""

    def __init__(self, catalogue: Catalogue, store, **bounds) -> None:
        self.catalogue, self.store, self.clock = catalogue, store, Clock()
        self.scopes = Scopes(catalogue.root)
        self.sent: list[dict] = []
        plugins = discover(PLUGINS)[0]
        self.scheduler = self.make(plugins, **bounds)

    def make(self, plugins, **bounds) -> Scheduler:
        return Scheduler(
            self.store, lambda: plugins, self.catalogue, self.scopes, self.send,
            default_interval=60, clock=self.clock, **bounds,
        )  # fmt: skip

    def send(self, meta: dict) -> str:
        self.store.add_job(
            meta["id"], "boefje", meta["organization"], meta["boefje"]["id"], meta,
            input_ooi=meta["input_ooi"],
        )  # fmt: skip
        self.sent.append(meta)
        return meta["id"]

    def pass_(self) -> list[tuple[str, str, str]]:
        before = len(self.sent)
        self.scheduler.run_once()
        return [(m["organization"], m["boefje"]["id"], m["input_ooi"]) for m in self.sent[before:]]

    def finish_all(self) -> None:
        from kat.jobs import JobStatus

        for meta in self.sent:
            self.store.end_job(meta["id"], JobStatus.COMPLETED)


@pytest.fixture
def system(catalogue, store) -> System:
    return System(catalogue, store)


from tests.servers.fixtures import dns_server, ssh_server  # noqa: E402, F401 (e2e fixtures)
