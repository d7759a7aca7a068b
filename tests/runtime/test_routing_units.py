"""The routing rule (kat.routing) and the worker command's checks of --zone/--plugins.

No RabbitMQ: the queue a job goes to is a function of its input object's network and
its plugin; a bad zone or plugin id is a usage error before any worker starts.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from runtime_harness import PLUGINS, ROOT

from kat import config, routing
from kat.jobs import JobError


@pytest.mark.parametrize(
    ("reference", "zone"),
    [
        ("IPAddressV4|internal|10.0.0.5", "internal"),
        ("Hostname|internet|example.com", "internet"),
        ("IPPort|dmz|192.0.2.1|tcp|443", "dmz"),
        ("IPAddressV6|lab-2|2001:db8::1", "lab-2"),
        ("Network|office", "office"),
        ("Finding|Hostname|lab|db.lab|KAT-NO-DMARC", "lab"),
        ("Website|internal|10.0.0.5|tcp|443|https|internal|intranet.corp", "internal"),
        ("AutonomousSystem|64496", "internet"),  # no network in its key
        (None, "internet"),  # a job without an input object
    ],
)
def test_a_jobs_zone_is_the_network_in_its_input_objects_key(reference, zone):
    assert routing.zone_of(reference) == zone


def test_a_network_that_cannot_name_a_queue_is_refused_naming_the_object():
    with pytest.raises(JobError, match=r"input_ooi: 'Hostname\|a b\|x.test'.*zone 'a b'"):
        routing.zone_of("Hostname|a b|x.test")
    with pytest.raises(JobError, match=r"\.DQ or \.XQ"):
        routing.zone_of("Hostname|evil.DQ|x.test")


def test_queue_names_keep_the_default_zone_on_the_queue_kat_always_had():
    assert routing.zone_queue("p-") == routing.zone_queue("p-", "internet") == "p-boefjes"
    assert routing.zone_queue("p-", "internal") == "p-boefjes@internal"
    assert routing.plugin_queue("p-", "internet", "nmap") == "p-boefjes/nmap"
    assert routing.plugin_queue("p-", "internal", "nmap") == "p-boefjes@internal/nmap"
    assert routing.boefje_queues("p-", "internal") == ["p-boefjes@internal"]
    assert routing.boefje_queues("p-", "dmz", ["a", "b"]) == ["p-boefjes@dmz/a", "p-boefjes@dmz/b"]
    assert routing.normalizer_queue("p-") == "p-normalizers"


def test_zone_and_plugin_queues_never_collide():
    # Every zone's and every claimed plugin's queue is distinct from each other's.
    names = [routing.zone_queue("", z) for z in ("internet", "internal", "internal.x", "a")] + [
        routing.plugin_queue("", z, p) for z in ("internet", "internal") for p in ("a", "x")
    ]
    assert len(set(names)) == len(names)


class _Broker:
    """Stands in for RabbitMQ's answer to "does this queue exist?"."""

    def __init__(self, existing: set[str]):
        self.existing = existing


class _Router(routing.Router):
    looked: list[str]

    def exists(self, queue: str) -> bool:
        self.__dict__.setdefault("looked", []).append(queue)
        return queue in self.broker.existing


def test_a_plugin_goes_to_its_own_queue_only_once_a_worker_claimed_it_in_that_zone():
    router = _Router(_Broker({"p-boefjes@internal/nmap"}), "p-")

    def queue(plugin: str, ref: str) -> str:
        return router.boefje_queue({"boefje": {"id": plugin}, "input_ooi": ref})

    assert queue("nmap", "IPAddressV4|internal|10.0.0.5") == "p-boefjes@internal/nmap"
    assert queue("nmap", "IPAddressV4|internet|192.0.2.1") == "p-boefjes"  # not claimed there
    assert queue("dns-records", "Hostname|internal|db.corp") == "p-boefjes@internal"


def test_an_unclaimed_plugin_is_looked_up_once_per_recheck_period_not_per_job():
    broker = _Broker(set())
    now = [100.0]
    router = _Router(broker, "p-", clock=lambda: now[0])
    job = {"boefje": {"id": "nmap"}, "input_ooi": "IPAddressV4|internal|10.0.0.5"}
    assert [router.boefje_queue(job) for _ in range(50)] == ["p-boefjes@internal"] * 50
    assert router.looked == ["p-boefjes@internal/nmap"]
    broker.existing.add("p-boefjes@internal/nmap")  # a limited worker claims it
    now[0] += routing.UNCLAIMED_RECHECK
    assert router.boefje_queue(job) == "p-boefjes@internal/nmap"
    assert router.boefje_queue(job) == "p-boefjes@internal/nmap"  # a claim is never cached
    assert len(router.looked) == 3


def test_worker_zone_and_plugins_come_from_the_environment_and_are_checked():
    settings = config.load({"KAT_WORKER_ZONE": "internal", "KAT_WORKER_PLUGINS": "a, b,a"})
    assert (settings.worker_zone, settings.worker_plugins) == ("internal", ("a", "b"))
    assert config.load({}).worker_zone == "internet"
    with pytest.raises(config.ConfigError, match="KAT_WORKER_ZONE"):
        config.load({"KAT_WORKER_ZONE": "../etc"})
    with pytest.raises(config.ConfigError, match="KAT_WORKER_PLUGINS.*'x/y'"):
        config.load({"KAT_WORKER_PLUGINS": "ok,x/y"})


def _kat_boefje(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAT_")}
    env.update(KAT_PLUGINS_DIR=str(PLUGINS), KAT_CATALOGUE_DIR=str(tmp_path / "catalogue"))
    return subprocess.run(
        [sys.executable, "-m", "kat", "boefje", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--zone", "../etc"], "--zone: zone '../etc' does not match"),
        (["--zone", "x.XQ"], "--zone: zone 'x.XQ' ends in .DQ or .XQ"),
        (["--plugins", "noop,no-such-boefje"], "--plugins: no plugin 'no-such-boefje' in"),
        (["--plugins", "noop,x/y"], "--plugins: plugin id 'x/y' does not match"),
        (["--plugins", "hostname-normalizer"], "'hostname-normalizer' is a normalizer"),
        (["--plugins", ","], "--plugins: name at least one boefje id"),
    ],
)
def test_a_bad_zone_or_plugin_is_a_usage_error_naming_it(tmp_path, args, says):
    result = _kat_boefje(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
