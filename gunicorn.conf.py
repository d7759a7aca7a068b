"""gunicorn settings of the KATalogus.

``gunicorn -c gunicorn.conf.py 'kat.katalogus.app:get_app()'`` (the Procfile's line).

Bind address from ``KATALOGUS_BIND`` (default ``127.0.0.1:8003``, read by ``kat.config``;
another address needs ``KATALOGUS_API_TOKEN`` or ``KAT_ALLOW_INSECURE_BIND=1``); worker
count from gunicorn's own ``WEB_CONCURRENCY`` (default: one per core). The app is loaded
in each worker, not in the master, and each worker starts its own file watcher. The
master and the workers hold ``KATALOGUS_PRIVATE_KEY``: none of them is dumpable.
"""

import multiprocessing
import os

from kat.config import load as _load_settings  # not "config": gunicorn reads that name
from kat.katalogus.safety import make_non_dumpable

# The master holds the private key from its first instruction: no /proc/<pid>/environ or
# ptrace for a process of the same user (a plugin) from here on; its forks inherit this.
if not make_non_dumpable():
    import sys

    print("KATalogus: no prctl on this system: its processes stay dumpable", file=sys.stderr)

bind = _load_settings().katalogus_bind
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
# Threads give keep-alive connections and let a request wait on the file lock without
# holding up the others in its worker. Setting writes are group-committed: the writes a
# worker's threads queue during one write go out in the next, so more threads share
# each fsync (8 connections of PUTs: ~470 -> ~550 req/s on 2 cores; GETs unchanged).
worker_class = "gthread"
threads = int(os.environ.get("PYTHON_MAX_THREADS") or 8)
keepalive = 5
# Each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads new
# connections evenly over the workers. With one shared socket a gthread worker can take
# every keep-alive connection while the other idles: GET throughput swung between 1,400
# and 4,500 req/s from run to run; with this it stays at 3,300-4,900.
reuse_port = True
timeout = 30
graceful_timeout = 10
preload_app = False
# Override with gunicorn's own GUNICORN_CMD_ARGS, e.g. "--access-logfile - --log-level debug".
errorlog = "-"
loglevel = "info"
# Reject headers and request lines no client of this API needs.
limit_request_line = 8190
limit_request_fields = 100
# No shared control socket: several KATalogus instances (tests, benchmarks) run side by side.
control_socket_disable = True

# GET /metrics sums every worker's figures: prometheus_client's multiprocess files, in a
# folder of this master's own (set before any worker imports prometheus_client).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir = tempfile.mkdtemp(
        prefix="katalogus-metrics-"
    )


def post_fork(server, worker):
    """kat's log lines go where gunicorn's error log goes, in its format."""
    import logging

    make_non_dumpable()  # inherited from the master; said again so no worker depends on it

    kat_logger = logging.getLogger("kat")
    kat_logger.handlers = list(worker.log.error_log.handlers)
    kat_logger.setLevel(worker.log.error_log.level)
    kat_logger.propagate = False


def post_worker_init(worker):
    """Start the catalogue watcher in this worker (threads do not survive a fork)."""
    from kat.katalogus.app import watcher_of

    try:
        watcher_of(worker.wsgi).start()
    except KeyError:  # the app failed to load; gunicorn serves its error page
        worker.log.error("KATalogus app not loaded: no file watcher")


def child_exit(server, worker):
    """A dead worker's live gauges leave /metrics; its counters stay summed."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics folder this master made."""
    _remove_metrics_dir()


def _remove_metrics_dir():
    import shutil

    if "_metrics_dir" in globals():
        shutil.rmtree(_metrics_dir, ignore_errors=True)


def on_starting(server):
    """Refuse to start, with one line saying why, when the keys are wrong (each worker
    would otherwise fail to boot with a traceback), when the address is beyond loopback
    without a token, or when it is taken, as gunicorn does without reuse_port
    (SO_REUSEPORT would let a second KATalogus share the port)."""
    import socket

    from gunicorn.util import parse_address

    from kat.catalogue import Catalogue, CatalogueError
    from kat.katalogus.safety import bind_refusal

    settings = _load_settings()
    try:
        Catalogue.from_settings(settings)
    except CatalogueError as exc:  # a malformed key, or a private key of another pair
        _remove_metrics_dir()
        raise SystemExit(f"KATalogus: {exc}") from None

    # The addresses gunicorn will bind: --bind in GUNICORN_CMD_ARGS or on the command line
    # overrides KATALOGUS_BIND.
    tcp = [a for a in server.cfg.bind if not a.startswith(("unix:", "fd://"))]
    hosts = [(address, str(parse_address(address)[0])) for address in tcp]
    refusal = bind_refusal(hosts, settings.katalogus_api_token, settings.allow_insecure_bind)
    if refusal:
        _remove_metrics_dir()
        raise SystemExit(f"KATalogus: {refusal}")
    for address in tcp:
        host, port = parse_address(address)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                _remove_metrics_dir()  # on_exit does not run for a start refused here
                raise SystemExit(f"KATalogus: cannot listen on {address}: {exc.strerror}") from None
    _name_the_addresses(server)


def _name_the_addresses(server):
    """With reuse_port each worker opens its own socket and the master none, so gunicorn's
    "Listening at:" line would name no address: fill in the addresses the workers bind."""
    import logging

    named = ",".join(
        address if address.startswith(("unix:", "fd://")) else f"http://{address}"
        for address in server.cfg.bind
    )

    class NameAddresses(logging.Filter):
        def filter(self, record):
            if record.msg == "Listening at: %s (%s)" and record.args and not record.args[0]:
                record.args = (named, *record.args[1:])
            return True

    server.log.error_log.addFilter(NameAddresses())
