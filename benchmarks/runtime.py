"""Benchmark of the job runtime on this machine, in one run, against the real RabbitMQ.

Prints, for each store backend (SQLite, the embedded default, and PostgreSQL, the
shared one) side by side with the same ceiling:
  * throughput of N no-op boefje -> normalizer chains through kat (jobs/s, each chain is
    two jobs) and of a bare Dramatiq actor that forks a child per message (the ceiling),
    all with ``--processes 2``, in alternating rounds, and the ratio of the best rounds;
  * enqueue -> completed latency (p50/p99) of single boefje jobs on an idle worker,
    from the store's own timestamps;
  * resident memory of every worker process and of its job helper.

Usage: ``python benchmarks/runtime.py [--chains 300] [--rounds 3] [--singles 200]
[--backends sqlite,postgres]``. PostgreSQL is reached at ``KAT_TEST_DATABASE_URL``
(default: the local server); the benchmark makes a database of its own and drops it.
When Dramatiq imports this file as a module (``dramatiq runtime``), it only declares
the bare actor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from kat import config

ROOT = Path(__file__).resolve().parents[1]

# --- the ceiling: a bare actor that forks per message ----------------------------------


def declare(settings: config.Settings):
    """The bare broker and actor (queue ``<prefix>bare``), for this benchmark's settings."""
    broker = RabbitmqBroker(url=settings.broker_url)

    @dramatiq.actor(broker=broker, queue_name=f"{settings.queue_prefix}bare", max_retries=0)
    def fork_per_message(number: int) -> None:
        """Fork a child that exits at once, wait for it, note the message as done."""
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        with open(settings.data_dir / "bare.done", "a") as done:
            done.write(f"{number}\n")

    return broker, fork_per_message


if __name__ != "__main__":  # imported by `dramatiq runtime`
    broker, fork_per_message = declare(config.load())
    dramatiq.set_broker(broker)


# --- set-up ----------------------------------------------------------------------------

BOEFJE = """def run(boefje_meta):
    return [({"text/plain"}, "")]
"""
NORMALIZER = """def run(input_ooi, raw):
    return iter(())
"""


def _write_plugins(folder: Path) -> None:
    for plugin_id in ("bench-noop", "bench-lone"):
        path = folder / plugin_id
        path.mkdir(parents=True)
        manifest = {"id": plugin_id, "consumes": ["Hostname"], "enabled": True}
        (path / "boefje.json").write_text(json.dumps(manifest))
        (path / "main.py").write_text(BOEFJE)
    path = folder / "bench-normalizer"
    path.mkdir()
    manifest = {"id": "bench-normalizer", "consumes": ["boefje/bench-noop"]}
    (path / "normalizer.json").write_text(json.dumps(manifest))
    (path / "normalize.py").write_text(NORMALIZER)


def _environment(root: Path) -> dict[str, str]:
    plugins = root / "plugins"
    _write_plugins(plugins)
    (root / "catalogue" / "organisations").mkdir(parents=True)
    (root / "catalogue" / "organisations" / "bench.yaml").write_text("id: bench\nname: Bench\n")
    (root / "data").mkdir()
    return {
        "KAT_PLUGINS_DIR": str(plugins),
        "KAT_CATALOGUE_DIR": str(root / "catalogue"),
        "KAT_DATA_DIR": str(root / "data"),
        "KAT_QUEUE_PREFIX": f"kat-bench-{uuid.uuid4().hex[:8]}-",
    }


#: The PostgreSQL server the benchmark makes its database on.
SERVER_URL = os.environ.get(
    "KAT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _postgres_database(create: bool, name: str) -> str:
    """Create (or drop) the benchmark's own database; its URL."""
    import psycopg

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return SERVER_URL.partition("?")[0].rsplit("/", 1)[0] + "/" + name


def _start(args: list[str], env: dict[str, str], log: Path, processes: int) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", *args],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while log.read_text().count("ready for action") < processes:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"workers did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    """The children of every thread of ``pid`` (a worker starts its job helper from
    whichever thread runs its first job)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += [int(p) for p in (task / "children").read_text().split()]
        except OSError:  # the thread has ended
            continue
    return children


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of a process, and of its children that have ended (and were reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and everything below it (ended children included)."""
    return sum(_cpu(pid)) + sum(tree_cpu(child) for child in _children(pid))


def cpu_split(proc: subprocess.Popen) -> dict[str, float]:
    """CPU seconds so far of a set of workers: ``worker`` (Dramatiq, kat and the store
    client in the worker processes) and ``jobs`` (each worker's job helper and the jobs
    it forked; for the bare actor, the children it forked)."""
    split = {"worker": sum(_cpu(proc.pid)), "jobs": 0.0}
    for worker in _children(proc.pid):
        own, reaped = _cpu(worker)
        split["worker"] += own
        split["jobs"] += reaped
        for helper in _children(worker):
            split["jobs"] += sum(_cpu(helper))
    return split


def _show(line: str, final: bool) -> None:
    """Progress rewritten in place on a terminal; in a log, only the final line."""
    if sys.stdout.isatty():
        print(f"\r  {line}   ", end="\n" if final else "", flush=True)
    elif final:
        print(f"  {line}", flush=True)


def _progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.monotonic() - started, 1e-9)
    _show(f"{label}: {done}/{total} jobs ({rate:.0f}/s)", done >= total)


# --- the measurements ------------------------------------------------------------------


def kat_throughput(actors, store, chains: int, label: str = "kat") -> float:
    """Jobs per second for ``chains`` boefje -> normalizer chains (2 jobs each)."""

    def finished() -> int:
        return store.count_jobs(status="completed") + store.count_jobs(status="failed")

    before = finished()
    started = time.monotonic()
    for _ in range(chains):
        actors.enqueue_boefje("bench", "bench-noop", "Hostname|internet|bench.test")
    total = 2 * chains
    while True:
        done = finished() - before
        _progress(label, done, total, started)
        if done >= total:
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    failed = store.list_jobs(status="failed", limit=5)
    if failed:
        raise SystemExit(f"jobs failed: {[(j.plugin_id, j.reason, j.detail) for j in failed]}")
    return total / elapsed


def bare_throughput(actor, messages: int, done_file: Path) -> float:
    def finished() -> int:
        return len(done_file.read_text().splitlines()) if done_file.exists() else 0

    before = finished()
    started = time.monotonic()
    for number in range(messages):
        actor.send(number)
    while True:
        done = finished() - before
        _progress("bare", done, messages, started)
        if done >= messages:
            break
        time.sleep(0.05)
    return messages / (time.monotonic() - started)


def latencies(actors, store, singles: int) -> list[float]:
    """Milliseconds from enqueue to completed, one job at a time on an idle worker."""
    result = []
    for number in range(singles):
        job_id = actors.enqueue_boefje("bench", "bench-lone", "Hostname|internet|bench.test")
        while not (job := store.get_job(job_id)).ended:
            time.sleep(0.001)
        queued = datetime.fromisoformat(job.queued_at)
        result.append((datetime.fromisoformat(job.ended_at) - queued).total_seconds() * 1000)
        if number % 20 == 19 or number + 1 == singles:
            _show(f"latency: {number + 1}/{singles} jobs", number + 1 == singles)
        time.sleep(0.02)  # idle between jobs
    return result


def _percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=300, help="boefje->normalizer chains")
    parser.add_argument("--singles", type=int, default=200, help="single jobs for latency")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    parser.add_argument("--backends", default="sqlite,postgres", help="store backends to run")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    root = Path(tempfile.mkdtemp(prefix="kat-bench-"))
    env = _environment(root)
    os.environ.update(env)
    import importlib

    import kat.actors as actors
    from kat.store import open_store

    database = f"kat_bench_{uuid.uuid4().hex[:8]}"
    urls = {"sqlite": f"sqlite:///{root / 'data' / 'kat.db'}"}
    if "postgres" in backends:
        urls["postgres"] = _postgres_database(True, database)
    worker_args = ["--processes", str(args.processes), "--threads", str(args.threads)]
    print(f"kat runtime benchmark: {args.processes} processes x {args.threads} threads")

    # Every set of workers stays up and the rounds alternate, so a burst of load from
    # elsewhere on the machine hits all of them; the best round of each is compared.
    systems, procs = {}, []
    try:
        for backend in backends:
            own = {**env, "KAT_DATABASE_URL": urls[backend],
                   "KAT_QUEUE_PREFIX": f"{env['KAT_QUEUE_PREFIX']}{backend}-"}  # fmt: skip
            proc = _start(["kat.actors", *worker_args], own, root / f"{backend}.log",
                          args.processes)  # fmt: skip
            procs.append(proc)
            systems[backend] = (own, proc, open_store(urls[backend]))
        bare = _start(
            ["runtime", "--path", str(ROOT / "benchmarks"), *worker_args],
            env, root / "bare.log", args.processes,
        )  # fmt: skip
        procs.append(bare)
        done_file = Path(env["KAT_DATA_DIR"]) / "bare.done"
        _broker, actor = declare(config.load())
        rates: dict[str, list[float]] = {name: [] for name in [*backends, "bare"]}
        cpu: dict[str, list[dict[str, float]]] = {name: [] for name in rates}
        lat, rss = {}, {}

        def measured(name: str, proc: subprocess.Popen, run) -> None:
            """One round: its rate, and CPU ms per job of each part (and of this process,
            which queues the jobs and polls)."""
            before, here = cpu_split(proc), os.times()
            rates[name].append(run())
            after, there = cpu_split(proc), os.times()
            jobs = 2 * args.chains
            split = {k: (after[k] - before[k]) * 1000 / jobs for k in after}
            split["queuing"] = (there.user + there.system - here.user - here.system) * 1000 / jobs
            cpu[name].append(split)

        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}")
            for backend, (own, proc, store) in systems.items():
                os.environ.update(own)  # the actors module sends to this system's queues
                importlib.reload(actors)
                measured(backend, proc, lambda b=backend, st=store: kat_throughput(
                    actors, st, args.chains, b))  # fmt: skip
            measured("bare", bare, lambda: bare_throughput(actor, 2 * args.chains, done_file))
        for backend, (own, proc, store) in systems.items():
            os.environ.update(own)
            importlib.reload(actors)
            lat[backend] = _percentiles(latencies(actors, store, args.singles))
            workers = _children(proc.pid)
            rss[backend] = [(_rss_mib(w), sum(_rss_mib(h) for h in _children(w))) for w in workers]
    finally:
        for proc in procs:
            _stop(proc)
        for own, _proc, store in systems.values():
            _delete_queues(own["KAT_QUEUE_PREFIX"])
            store.close()
        _delete_queues(env["KAT_QUEUE_PREFIX"])
        if "postgres" in urls:
            _postgres_database(False, database)
        shutil.rmtree(root, ignore_errors=True)  # its store, catalogue and worker logs

    ceiling = max(rates["bare"])
    print()
    print(f"{'':32}{'jobs/s':>9}{'x ceiling':>11}{'p50 ms':>9}{'p99 ms':>9}   rounds")
    targets = {"sqlite": "target >= 0.8x, p50 <= 10 ms", "postgres": "target >= 0.6x"}
    for backend in backends:
        best = max(rates[backend])
        p50, p99 = lat[backend]
        rounds = ", ".join(f"{r:.0f}" for r in rates[backend])
        print(f"{'kat chains on ' + backend:32}{best:9.1f}{best / ceiling:10.2f}x{p50:9.1f}"
              f"{p99:9.1f}   {rounds}  ({targets.get(backend, '')})")  # fmt: skip
    rounds = ", ".join(f"{r:.0f}" for r in rates["bare"])
    print(f"{'bare fork-per-message actor':32}{ceiling:9.1f}{1:10.2f}x{'':18}   {rounds}")
    print()
    print("CPU ms per job, median of the rounds (worker processes: Dramatiq, kat, the store")
    print("client; jobs: the job helper and the forked jobs; queuing: this process):")
    for name in [*backends, "bare"]:
        parts = {k: statistics.median(r[k] for r in cpu[name]) for k in cpu[name][0]}
        text = ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
        print(f"  {name:10} {text}, total {sum(parts.values()):.2f}")
    for backend in backends:
        for number, (worker_rss, helper_rss) in enumerate(rss[backend]):
            print(
                f"{backend} worker process {number}: {worker_rss:.0f} MiB RSS, its job helper "
                f"{helper_rss:.0f} MiB (target <= 100 MB per worker process)"
            )


def _delete_queues(prefix: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(config.load().broker_url))
    channel = connection.channel()
    for name in ("boefjes", "normalizers", "bare"):
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(prefix + name + suffix)
    connection.close()


if __name__ == "__main__":
    main()
