"""Benchmark: chain throughput of workers over the data API, next to workers on the
embedded store and the bare fork-per-message ceiling, in one run, against the real
RabbitMQ.

Each round queues N boefje -> normalizer chains (``kat scan`` of N inputs with a no-op
boefje whose raw a no-op normalizer reads) for each kind of worker, and the same number
of messages for the bare actor; the rounds alternate, the best of each is compared.

- embedded: ``kat boefje`` + ``kat normalizer`` on the SQLite store (``KAT_DATA_DIR``);
- data API: the same workers with ``KAT_DATA_API`` pointing at gunicorn (the KATalogus
  app with the data API) over the same SQLite store;
- bare: a Dramatiq actor that forks a child per message (benchmarks/runtime.py).

Usage: ``python benchmarks/dataapi.py [--chains 200] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from runtime import (  # noqa: E402 (the lead's runtime benchmark, next to this file)
    ROOT,
    _delete_queues,
    _environment,
    _progress,
    _stop,
    bare_throughput,
    declare,
    tree_cpu,
)

from kat import config  # noqa: E402
from kat.store import open_store  # noqa: E402

BIN = Path(sys.executable).parent
TOKEN = uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(argv: list[str], env: dict[str, str], log: Path, ready: str, count: int):
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while log.read_text(errors="replace").count(ready) < count:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{argv[:3]} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    return proc


def _workers(env: dict[str, str], root: Path, name: str, processes: int) -> list:
    procs = []
    for kind in ("boefje", "normalizer"):
        argv = [sys.executable, "-m", "kat", kind, "--processes", str(processes),
                "--log-level", "INFO"]  # fmt: skip
        procs.append(_spawn(argv, env, root / f"{name}-{kind}.log", "ready for action", processes))
    return procs


def chains(env: dict[str, str], root: Path, label: str, count: int, store) -> float:
    """Jobs per second for ``count`` chains queued by one ``kat scan`` (2 jobs each)."""
    inputs = root / f"{label}-{uuid.uuid4().hex[:6]}.txt"
    inputs.write_text("".join(f"Hostname|internet|h{i}.bench.test\n" for i in range(count)))
    started = time.monotonic()
    queued = subprocess.run(
        [sys.executable, "-m", "kat", "scan", "--org", "bench", "--boefje", "bench-noop",
         "--json", f"@{inputs}"],
        env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if queued.returncode != 0:
        raise SystemExit(f"kat scan failed: {queued.stderr}")
    scan_id = json.loads(queued.stdout)["scan"]
    total = 2 * count
    while True:
        progress = store.scan_progress(scan_id)
        done = progress.get("completed", 0) + progress.get("failed", 0)
        _progress(label, done, total, started)
        if done >= total:
            break
        time.sleep(0.1)
    if progress.get("failed"):
        raise SystemExit(f"{label}: {progress['failed']} jobs failed")
    return total / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kat-bench-dataapi-"))
    base = _environment(root)  # plugins, catalogue, data folder, a queue prefix
    db = f"sqlite:///{Path(base['KAT_DATA_DIR']).resolve() / 'kat.db'}"
    Path(base["KAT_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    bind = f"127.0.0.1:{_free_port()}"
    embedded = {**base, "KAT_QUEUE_PREFIX": base["KAT_QUEUE_PREFIX"] + "e-"}
    server = {**base, "KAT_DATABASE_URL": db, "KAT_DATA_API_TOKEN": TOKEN,
              "KATALOGUS_BIND": bind, "WEB_CONCURRENCY": "2",
              "GUNICORN_CMD_ARGS": os.environ.get("BENCH_ACCESS_LOG", "")}  # fmt: skip
    remote = {
        **{k: v for k, v in base.items() if k != "KAT_DATA_DIR"},
        "KAT_QUEUE_PREFIX": base["KAT_QUEUE_PREFIX"] + "h-",
        "KAT_DATA_API": f"http://{bind}",
        "KAT_DATA_API_TOKEN": TOKEN,
    }
    print(f"kat data API benchmark: {args.processes} processes per worker kind, SQLite store")
    procs = []
    try:
        open_store(db).close()  # migrated before anyone else opens it
        gunicorn = _spawn(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
             "kat.katalogus.app:get_app()"],
            server, root / "gunicorn.log", "Booting worker", 2,
        )  # fmt: skip
        procs.append(gunicorn)
        kinds = {"embedded": _workers(embedded, root, "embedded", args.processes)}
        kinds["data API"] = _workers(remote, root, "dataapi", args.processes)
        procs += kinds["embedded"] + kinds["data API"]
        bare_env = {**base, "KAT_QUEUE_PREFIX": base["KAT_QUEUE_PREFIX"] + "b-"}
        os.environ.update(bare_env)
        procs.append(_spawn(
            [sys.executable, "-m", "dramatiq", "runtime", "--path", str(ROOT / "benchmarks"),
             "--processes", str(args.processes)],
            bare_env, root / "bare.log", "ready for action", args.processes,
        ))  # fmt: skip
        _broker, actor = declare(config.load(bare_env))
        store = open_store(db)
        rates: dict[str, list[float]] = {"embedded": [], "data API": [], "bare": []}
        cpu: dict[str, list[tuple[float, float]]] = {"embedded": [], "data API": []}
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}")
            for name, env in (("embedded", embedded), ("data API", remote)):
                # CPU of the workers (with their jobs) and of the data API server.
                before = [sum(tree_cpu(p.pid) for p in kinds[name]), tree_cpu(gunicorn.pid)]
                rates[name].append(chains(env, root, name, args.chains, store))
                after = [sum(tree_cpu(p.pid) for p in kinds[name]), tree_cpu(gunicorn.pid)]
                jobs = 2 * args.chains
                cpu[name].append(
                    tuple((a - b) * 1000 / jobs for a, b in zip(after, before, strict=True))
                )
            done_file = Path(base["KAT_DATA_DIR"]) / "bare.done"
            rates["bare"].append(bare_throughput(actor, 2 * args.chains, done_file))
        store.close()
    finally:
        for proc in procs:
            _stop(proc)
        for env in (embedded, remote, {"KAT_QUEUE_PREFIX": base["KAT_QUEUE_PREFIX"] + "b-"}):
            _delete_queues(env["KAT_QUEUE_PREFIX"])
        shutil.rmtree(root, ignore_errors=True)

    best = {name: max(r) for name, r in rates.items()}
    print()
    for name, r in rates.items():
        rounds = ", ".join(f"{x:.0f}" for x in r)
        print(f"{name + ':':<34}{best[name]:7.1f} jobs/s  (rounds: {rounds})")
    print(f"ratio data API / embedded:        {best['data API'] / best['embedded']:7.0%}"
          "   (target >= 70%)")  # fmt: skip
    paired = statistics.median(
        d / e for d, e in zip(rates["data API"], rates["embedded"], strict=True)
    )
    print(f"  (median of the rounds' own ratios: {paired:.0%})")
    print(f"ratio data API / bare:            {best['data API'] / best['bare']:7.0%}")
    print("CPU ms per job, median of the rounds (workers: boefje and normalizer workers with")
    print("their job helpers and jobs; server: gunicorn with the data API):")
    for name, rounds in cpu.items():
        workers = statistics.median(r[0] for r in rounds)
        served = statistics.median(r[1] for r in rounds)
        print(
            f"  {name:10} workers {workers:.2f}, server {served:.2f}, total {workers + served:.2f}"
        )


if __name__ == "__main__":
    main()
