"""Benchmark of one scheduling pass: N in-scope objects x 5 boefjes, SQLite and PostgreSQL.

For each backend, in a process of its own (so peak memory is that backend's alone):
  * the baseline: reading the organisation's N objects from the store (what any pass
    must do at least);
  * the first pass: every (boefje, object) pair is new: planned, written to the
    schedule, and the due ones sent within the bound on outstanding jobs;
  * a steady pass: nothing new, nothing due (the pass a running scheduler makes
    every tick);
  * peak resident memory of the process, and queue pressure: jobs sent by the first
    pass (bounded by KAT_SCHEDULER_MAX_TOTAL) and the pairs left waiting;
  * the CPU seconds this process spent in each pass (PostgreSQL's own work not
    included): on a busy shared machine, the figure that moves least with the load.

Sending records the job in the store as the lifecycle does; no broker is involved.
``--runs N`` runs each backend N times (a fresh process and store each time) and prints
the median of each figure.
Usage: ``python benchmarks/scheduling.py [--objects 100000] [--runs 3]
[--backend sqlite|postgres]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BOEFJES = 5
ORG = "bench"


def _plugins(folder: Path) -> None:
    for n in range(BOEFJES):
        plugin = folder / f"bench_{n}"
        plugin.mkdir(parents=True)
        manifest = {"id": f"bench-{n}", "consumes": ["Hostname"], "scan_level": 1}
        (plugin / "boefje.json").write_text(json.dumps({**manifest, "enabled": True}))
        (plugin / "main.py").write_text("def run(boefje_meta):\n    return []\n")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_backend(backend: str, objects: int) -> dict:
    from kat.catalogue import Catalogue
    from kat.catalogue.plugins import discover
    from kat.scheduling.scheduler import Scheduler
    from kat.scheduling.scope import Scopes
    from kat.store import open_store
    from tests.database import store_url

    tmp = Path(tempfile.mkdtemp(prefix="kat-bench-sched-"))
    _plugins(tmp / "plugins")
    catalogue = Catalogue(tmp / "catalogue")
    catalogue.create_organisation(ORG)
    refs = [f"Hostname|internet|h{n}.example" for n in range(objects)]
    scope = tmp / "catalogue" / "scopes"
    scope.mkdir()
    (scope / f"{ORG}.yaml").write_text("objects:\n" + "".join(f"  {ref}: 2\n" for ref in refs))
    store = open_store(store_url(tmp, backend))
    store.add_job("found", "normalizer", ORG, "bench-normalizer", {"id": "found"})
    store.replace_objects(
        "found", ORG,
        ({"object_type": "Hostname", "primary_key": r, "network": "Network|internet",
          "name": r.rsplit("|", 1)[1]} for r in refs),
    )  # fmt: skip
    plugins = discover(tmp / "plugins")[0]
    sent = []

    def send(meta: dict) -> str:
        store.add_job(meta["id"], "boefje", ORG, meta["boefje"]["id"], meta,
                      input_ooi=meta["input_ooi"])  # fmt: skip
        sent.append(meta["id"])
        return meta["id"]

    scheduler = Scheduler(
        store, lambda: plugins, catalogue, Scopes(tmp / "catalogue"), send,
        max_per_org=1000, max_total=1000,
    )  # fmt: skip
    rss_start = _rss_mib()
    t = time.perf_counter()
    read = len(store.objects(ORG, limit=10_000_000))
    baseline = time.perf_counter() - t
    t, cpu = time.perf_counter(), time.process_time()
    first = scheduler.run_once()
    first_s, first_cpu = time.perf_counter() - t, time.process_time() - cpu
    t, cpu = time.perf_counter(), time.process_time()
    steady = scheduler.run_once()
    steady_s, steady_cpu = time.perf_counter() - t, time.process_time() - cpu
    store.close()
    return {
        "backend": backend, "objects": read, "pairs": first.pairs,
        "baseline_read_s": round(baseline, 2), "first_pass_s": round(first_s, 2),
        "steady_pass_s": round(steady_s, 2), "sent_first_pass": len(first.sent),
        "first_pass_cpu_s": round(first_cpu, 2), "steady_pass_cpu_s": round(steady_cpu, 2),
        "waiting_after_first_pass": first.pairs - len(first.sent),
        "sent_steady_pass": len(steady.sent), "deferred_steady_pass": steady.deferred,
        "rss_before_mib": round(rss_start), "peak_rss_mib": round(_rss_mib()),
    }  # fmt: skip


def _median(values: list) -> float | int:
    if all(isinstance(v, int) for v in values):
        return statistics.median_low(values)
    return round(statistics.median(values), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"])
    parser.add_argument("--runs", type=int, default=1, help="runs per backend; medians shown")
    args = parser.parse_args()
    if args.backend:
        print(json.dumps(one_backend(args.backend, args.objects)))
        return
    for backend in ("sqlite", "postgres"):
        runs = []
        for _ in range(max(args.runs, 1)):
            done = subprocess.run(
                [sys.executable, __file__, "--objects", str(args.objects), "--backend", backend],
                capture_output=True, text=True, check=True, timeout=1800,
            )  # fmt: skip
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        figures = {key: _median([run[key] for run in runs]) for key in runs[0] if key != "backend"}
        if len(runs) > 1:
            print(f"{backend:<9} first passes: " + ", ".join(
                f"{run['first_pass_s']} s" for run in runs) + "; medians:")  # fmt: skip
        print(
            f"{backend:<9} {figures['objects']:>7} objects x {BOEFJES} boefjes = "
            f"{figures['pairs']} pairs: first pass {figures['first_pass_s']} s "
            f"(CPU {figures['first_pass_cpu_s']} s), steady pass "
            f"{figures['steady_pass_s']} s (CPU {figures['steady_pass_cpu_s']} s) "
            f"(baseline: reading the objects "
            f"{figures['baseline_read_s']} s); peak RSS {figures['peak_rss_mib']} MiB "
            f"(before the passes {figures['rss_before_mib']} MiB); queue: "
            f"{figures['sent_first_pass']} sent, {figures['waiting_after_first_pass']} "
            f"waiting for the bound; steady pass sent {figures['sent_steady_pass']}, "
            f"deferred {figures['deferred_steady_pass']}"
        )


if __name__ == "__main__":
    main()
