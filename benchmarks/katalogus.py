"""KATalogus figures: requests/s and latency of GET plugins and PUT setting on gunicorn
with 2 workers, next to a bare Falcon app that serves the same response bytes on the same
gunicorn settings in the same run (the ceiling); a PUT on a plugin with 1,200 sealed
settings; and the cold load of a catalogue of 10,000 organisations.

    python benchmarks/katalogus.py [--seconds 10] [--connections 8] [--python-client]

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
#: Plugins in the benchmark's plugins folder (the repository's, plus generated ones).
PLUGINS = 100
#: Sealed settings of the plugin the "many sealed settings" PUT writes to.
SEALED = 1_200

#: A Falcon app that answers every GET with fixed bytes and every PUT with a fixed small
#: body: the ceiling of what the KATalogus could reach on the same gunicorn.
BARE_APP = """
import os
import falcon

BODY = open(os.environ["BARE_BODY"], "rb").read()


class Fixed:
    def on_get(self, req, resp, **params):
        resp.data, resp.content_type = BODY, falcon.MEDIA_JSON

    def on_put(self, req, resp, **params):
        req.bounded_stream.read()
        resp.data, resp.content_type = b'{"value": "v"}', falcon.MEDIA_JSON


app = falcon.App()
app.add_sink(Fixed().on_get, "/v1")
app.add_route("/health", Fixed())
app.add_route("/v1/organisations/_dev/{plugin}/settings/{key}", Fixed())
"""

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


def start_gunicorn(catalogue: Path, plugins: Path, workers: int, log: Path, app: str = "", **env):
    """gunicorn from the repository's ``gunicorn.conf.py`` serving the KATalogus, or
    ``app`` (a module:attribute on ``PYTHONPATH``) with the very same settings."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KAT", "BYTES", "BOEF"))},
        "KAT_CATALOGUE_DIR": str(catalogue),
        "KAT_PLUGINS_DIR": str(plugins),
        "KATALOGUS_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_CMD_ARGS": "--log-level warning",
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
        + [app or "kat.katalogus.app:get_app()"],
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


def stop(proc) -> None:
    proc.terminate()
    proc.wait(timeout=20)


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
    """The repository's plugins plus schema-less boefjes up to :data:`PLUGINS`, one of
    which (``bench-noop``) takes the PUT settings."""
    shutil.copytree(ROOT / "plugins", root, ignore=shutil.ignore_patterns("__pycache__"))
    have = sum(1 for _ in root.glob("**/boefje.json")) + sum(
        1 for _ in root.glob("**/normalizer.json")
    )
    for n in range(max(PLUGINS - have, 1)):
        plugin_id = "bench-noop" if n == 0 else f"bench-{n:03d}"
        folder = root / f"bench_{n:03d}"
        folder.mkdir()
        manifest = {"id": plugin_id, "name": f"Bench {n}", "consumes": ["Hostname"]}
        manifest["description"] = "A boefje that finds nothing, to fill the catalogue"
        (folder / "boefje.json").write_text(json.dumps(manifest))
        (folder / "main.py").write_text("def run(boefje_meta):\n    return []\n")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def many_sealed_settings(tmp: Path, args) -> None:
    """PUT one setting of a plugin that has :data:`SEALED` sealed settings, one at a time."""
    sys.path.insert(0, str(ROOT))
    from kat.catalogue import Catalogue
    from kat.catalogue.sealing import Sealer, generate

    public, private = generate()
    catalogue = tmp / "sealed" / "catalogue"
    make_catalogue(catalogue, 0)
    sealer = Sealer(public, [private])
    values = {f"KEY_{n:04d}": sealer.seal(f"secret-{n}") for n in range(SEALED)}
    Catalogue(catalogue, sealer).replace_settings("_dev", "bench-noop", values)
    keys = {
        "BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX",
        "KATALOGUS_PUBLIC_KEY": public,
        "KATALOGUS_PRIVATE_KEY": private,
    }
    proc, url = start_gunicorn(catalogue, tmp / "plugins", 2, tmp / "sealed.log", **keys)
    try:
        host = url.split("//", 1)[1]
        conn = http.client.HTTPConnection(host, timeout=60)
        times = []
        for n in range(40):
            body = json.dumps({"value": f"changed-{n}"})
            started = time.perf_counter()
            conn.request(
                "PUT",
                "/v1/organisations/_dev/bench-noop/settings/KEY_0001",
                body=body,
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
            times.append(time.perf_counter() - started)
            assert response.status == 200, response.status
        cuts = statistics.quantiles(times[2:], n=100)
        print(
            f"[{SEALED} sealed settings] PUT of one setting, one client: "
            f"p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms"
        )
    finally:
        stop(proc)


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
    parser.add_argument("--skip-large", action="store_true", help="no 10,000-organisation run")
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
        plugins_path = "/v1/organisations/_dev/plugins"
        put_path = "/v1/organisations/_dev/bench-noop/settings/VALUE"

        # The ceiling: the very bytes kat answers, from a bare Falcon app on the same
        # gunicorn settings, measured in this run, right before kat itself.
        proc, url = start_gunicorn(small, tmp / "plugins", 2, tmp / "kat.log")
        try:
            body = get(url + plugins_path)
            print(f"GET {plugins_path}: {len(json.loads(body))} plugins, {len(body)} bytes")
            (tmp / "body.json").write_bytes(body)
            (tmp / "bare.py").write_text(BARE_APP)
            bare_proc, bare_url = start_gunicorn(
                small, tmp / "plugins", 2, tmp / "bare.log", "bare:app",
                PYTHONPATH=str(tmp), BARE_BODY=str(tmp / "body.json"),
            )  # fmt: skip
            try:
                assert get(bare_url + plugins_path) == body
                # A short run of each first, so every worker has served each kind once.
                warm = argparse.Namespace(**{**vars(args), "seconds": 1})
                for server in (url, bare_url):
                    load(server, plugins_path, "GET", warm)
                    load(server, put_path, "PUT", warm)
                # Interleaved (bare, kat, kat, bare) and the better of two runs each, so a
                # burst of other load on a shared machine does not decide the ratio.
                rows: dict[tuple[str, str], dict] = {}
                for method, path in (("GET", plugins_path), ("PUT", put_path)):
                    for who in ("bare", "kat", "kat", "bare"):
                        r = load(bare_url if who == "bare" else url, path, method, args)
                        best = rows.get((who, method))
                        if best is None or r["rps"] > best["rps"]:
                            rows[(who, method)] = r
            finally:
                stop(bare_proc)
        finally:
            stop(proc)
        print("best of two interleaved runs each:")
        print(f"{'':>14} {'kat req/s':>10} {'bare req/s':>11} {'ratio':>6} "
              f"{'kat p50':>8} {'kat p99':>8} {'bare p99':>9} {'non-2xx':>8}")  # fmt: skip
        for method, path in (("GET", "plugins (100)"), ("PUT", "one setting")):
            kat, bare = rows[("kat", method)], rows[("bare", method)]
            print(
                f"{method + ' ' + path:>14} {kat['rps']:>10.0f} {bare['rps']:>11.0f} "
                f"{kat['rps'] / bare['rps']:>5.2f}x {kat['p50']:>6.1f}ms {kat['p99']:>6.1f}ms "
                f"{bare['p99']:>7.1f}ms {kat['errors']:>8}"
            )
        print("targets: GET plugins >= 0.80x the bare app; PUT >= 500 req/s with p99 <= 50 ms")

        many_sealed_settings(tmp, args)

        if args.skip_large:
            return
        started = time.perf_counter()
        make_catalogue(large, ORGS)
        print(f"\ngenerated {ORGS} organisations in {time.perf_counter() - started:.1f} s")
        seconds, mib = cold_load(large)
        print(
            f"cold load of {ORGS + 1} organisations (one process): {seconds:.2f} s, "
            f"RSS {mib:.0f} MiB"
        )
        label = f"{ORGS + 1} organisations"
        proc, url = start_gunicorn(large, tmp / "plugins", 2, tmp / "large.log")
        try:
            started = time.perf_counter()
            count = len(json.loads(get(url + "/v1/organisations")))
            first = time.perf_counter() - started
            print(f"[{label}] first GET /v1/organisations ({count}): {first * 1000:.0f} ms")
            for method, path in (("GET", plugins_path), ("PUT", put_path)):
                r = load(url, path, method, args)
                print(
                    f"[{label}] {method} {path}: {r['rps']:.0f} req/s, "
                    f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, non-2xx {r['errors']}"
                )
            # every worker has now served the whole list at least once
            for _ in range(4):
                get(url + "/v1/organisations")
            sizes = ", ".join(f"{rss_mib(pid):.0f}" for pid in worker_pids(proc.pid))
            print(f"[{label}] worker RSS after listing every organisation: {sizes} MiB")
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
