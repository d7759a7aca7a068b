"""KATalogus figures: requests/s and latency of GET plugins and PUT setting on gunicorn
with 2 workers, and the cold load of a catalogue of 10,000 organisations.

    python benchmarks/katalogus.py [--seconds 10] [--connections 16] [--python-client]

Uses ``wrk`` when installed (a C load generator steals less CPU from the server on a
small machine), else a Python client: threads with keep-alive ``http.client``
connections. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORGS = 10_000

PUT_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"value": "v' .. counter .. '-' .. math.random(1000000) .. '"}'
  return wrk.format("PUT", "%s", {["Content-Type"] = "application/json"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(catalogue: Path, plugins: Path, workers: int, log: Path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KAT", "BYTES", "BOEF"))},
        "KAT_CATALOGUE_DIR": str(catalogue),
        "KAT_PLUGINS_DIR": str(plugins),
        "KATALOGUS_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_CMD_ARGS": "--log-level warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
        + ["kat.katalogus.app:get_app()"],
        env=env,
        cwd=catalogue.parent,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise SystemExit(f"gunicorn did not start: {log.read_text()}")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wrk(url: str, seconds: int, connections: int, script: str | None = None) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
            cmd += ["-s", lua.name]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def python_load(url: str, seconds: int, connections: int, method: str, path: str) -> dict:
    """Keep-alive clients in threads; PUT bodies change every request (so it writes)."""
    latencies: list[float] = []
    errors = [0]
    host = url.split("//", 1)[1]
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(host, timeout=30)
        local, i = [], 0
        while time.monotonic() < stop:
            i += 1
            body = json.dumps({"value": f"v{n}-{i}"}) if method == "PUT" else None
            start = time.perf_counter()
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            local.append(time.perf_counter() - start)
            if response.status >= 300:
                errors[0] += 1
        latencies.extend(local)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / elapsed,
        "p50": cuts[49] * 1000,
        "p99": cuts[98] * 1000,
        "errors": errors[0],
    }


def load(url: str, path: str, method: str, args) -> dict:
    if shutil.which("wrk") and not args.python_client:
        return wrk(
            url + path, args.seconds, args.connections, PUT_LUA % path if method == "PUT" else None
        )
    return python_load(url, args.seconds, args.connections, method, path)


def make_catalogue(root: Path, organisations: int) -> None:
    """The shipped catalogue plus ``organisations`` generated ones, 3 plugins each."""
    shutil.copytree(ROOT / "catalogue", root)
    folder = root / "organisations"
    for n in range(organisations):
        (folder / f"org-{n:05d}.yaml").write_text(
            f"id: org-{n:05d}\nname: Organisation {n}\nplugins:\n"
            "  dns-records:\n    enabled: true\n    settings:\n      RECORD_TYPES: A,AAAA\n"
            "  ssl-certificates:\n    enabled: false\n"
            f"  bench-noop:\n    settings:\n      VALUE: v{n}\n      OTHER: '{n}'\n"
        )


def make_plugins(root: Path) -> None:
    """The repository's plugins plus a schema-less boefje to PUT settings to."""
    shutil.copytree(ROOT / "plugins", root, ignore=shutil.ignore_patterns("__pycache__"))
    noop = root / "bench_noop"
    noop.mkdir()
    (noop / "boefje.json").write_text(json.dumps({"id": "bench-noop", "consumes": ["Hostname"]}))
    (noop / "main.py").write_text("def run(boefje_meta):\n    return []\n")


def cold_load(catalogue: Path) -> tuple[float, float]:
    """Seconds and MiB RSS for a fresh process to load every organisation."""
    code = (
        "import time,sys;t=time.perf_counter();from kat.catalogue import Catalogue;"
        f"n=len(Catalogue({str(catalogue)!r}).list_organisations());"
        "d=time.perf_counter()-t;"
        "rss=[l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1];"
        "print(n,d,int(rss)/1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n, seconds, mib = out.stdout.split()
    assert int(n) >= ORGS
    return float(seconds), float(mib)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--python-client", action="store_true")
    args = parser.parse_args()
    client = "python" if args.python_client or not shutil.which("wrk") else "wrk"
    print(
        f"KATalogus on gunicorn, 2 workers, {os.cpu_count()} cores; client: {client}, "
        f"{args.connections} connections, {args.seconds} s per run"
    )

    with tempfile.TemporaryDirectory(prefix="kat-bench-") as tmp:
        tmp = Path(tmp)
        make_plugins(tmp / "plugins")
        small, large = tmp / "small" / "catalogue", tmp / "large" / "catalogue"
        make_catalogue(small, 0)
        started = time.perf_counter()
        make_catalogue(large, ORGS)
        print(f"generated {ORGS} organisations in {time.perf_counter() - started:.1f} s")

        seconds, mib = cold_load(large)
        print(
            f"cold load of {ORGS + 1} organisations (one process): {seconds:.2f} s, "
            f"RSS {mib:.0f} MiB"
        )

        plugins_path = "/v1/organisations/_dev/plugins"
        put_path = "/v1/organisations/_dev/bench-noop/settings/VALUE"
        for label, catalogue in (("1 organisation", small), (f"{ORGS + 1} organisations", large)):
            proc, url = start_gunicorn(catalogue, tmp / "plugins", 2, tmp / f"{label[:2]}.log")
            try:
                started = time.perf_counter()
                with urllib.request.urlopen(url + "/v1/organisations", timeout=60) as response:
                    count = len(json.loads(response.read()))
                first = time.perf_counter() - started
                print(f"\n[{label}] first GET /v1/organisations ({count}): {first * 1000:.0f} ms")
                for method, path in (("GET", plugins_path), ("PUT", put_path)):
                    r = load(url, path, method, args)
                    print(
                        f"[{label}] {method} {path}: {r['rps']:.0f} req/s, "
                        f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, non-2xx {r['errors']}"
                    )
                # every worker has now served the whole list at least once
                for _ in range(4):
                    urllib.request.urlopen(url + "/v1/organisations", timeout=60).read()
                sizes = ", ".join(f"{rss_mib(pid):.0f}" for pid in worker_pids(proc.pid))
                print(f"[{label}] worker RSS after listing every organisation: {sizes} MiB")
            finally:
                proc.terminate()
                proc.wait(timeout=20)


if __name__ == "__main__":
    main()
