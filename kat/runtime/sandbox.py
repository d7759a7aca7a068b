"""The sandbox: every job runs in a child forked for it, with limits, in its own group.

Why a helper: a Dramatiq worker process runs several threads and holds a broker
connection; forking it would copy locks held by other threads and the AMQP socket into
the child. So each worker process starts one lean, single-threaded helper
(:mod:`kat.runtime.forker`, a fresh interpreter that never imports Dramatiq) and the helper
forks a job per request.

One job, end to end::

    worker thread ──control + 4 fds (SCM_RIGHTS)──► helper ──fork──► child
         ▲  ▲  ▲  job file (memfd: plugin, settings, raw) ────────► (reads it) setsid,
         │  │  └── "P"+pid, later "X"+wait status ──┘             subreaper, rlimits,
         │  └───── the job's memory, every 50 ms (/proc)           job user, environ
         └──────────── outcome over a pipe ◄──────────────────────  run(), outcome

The worker thread enforces the wall-clock limit (``killpg`` SIGKILL at the deadline)
and the job's memory limit (all its processes together, :mod:`kat.runtime.processes`),
and reads the outcome pipe while it waits, so a 50 MB result never blocks the child.
The child kills everything the job started when it ends; the helper kills what a
killed child left. The settings and raw travel in a memfd only the job reads, never
through the helper (from which later jobs of other organisations are forked). The
child's outcome is a JSON header plus raw bytes, never a pickle: a plugin that forges
it can fail its own job but not run code in the worker. A helper that does not answer
in time is killed and replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from kat import config
from kat.jobs import FailureReason
from kat.runtime import isolation, processes
from kat.runtime.forker import MSG, REQ, killpg
from kat.runtime.outcome import Outcome, decode

#: How long the worker waits for the helper to report a child's pid (or, past the
#: deadline, its end), in seconds; a helper that does not is replaced.
SPAWN_TIMEOUT = 15.0
#: After the child exits, how long to wait for the outcome pipe to close, in seconds.
DRAIN_TIMEOUT = 5.0
#: The longest single wait for the child, in seconds (a longer limit waits again).
MAX_WAIT = 3600.0
#: How often the worker measures a running job's memory (all its processes), seconds.
MEMORY_POLL = 0.05
#: The tail of a failed child's stdout/stderr kept with the job, in bytes.
OUTPUT_TAIL = 4096


class SandboxError(RuntimeError):
    """The sandbox itself broke (helper gone): not the plugin's fault, so retry the job."""


# --- the worker side ----------------------------------------------------------------

#: prctl option: whether the process is "dumpable" (Linux).
PR_SET_DUMPABLE = 4


def hide_environment() -> None:
    """Close this process's ``/proc/PID/environ`` (and memory) to its jobs.

    A worker's environment holds the host's secrets (``KATALOGUS_PRIVATE_KEY``, the
    broker's password); a plugin runs as the same user and could read them from
    ``/proc/<worker>/environ``. A process that is not dumpable can be inspected only by
    processes with ``CAP_SYS_PTRACE``. Forked processes inherit it; the job helper is a
    fresh program with an empty environment, so it needs none.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


#: ``ForkServer(user=...)`` default: the job user of ``KAT_JOB_USER`` (kat.config).
CONFIGURED = "configured"


class ForkServer:
    """Runs jobs in children forked by this process's helper; thread-safe, lazy."""

    def __init__(
        self, preload: list[str] | tuple[str, ...] = (), user: str | None = CONFIGURED
    ) -> None:
        #: Extra modules for the helper to import (libraries the plugins use), so that a
        #: job does not pay for importing them: children inherit them loaded.
        self.preload = list(preload)
        #: uid and gid the plugins run as (None: this process's own); raises ConfigError.
        self.user = isolation.resolve(config.load().job_user if user == CONFIGURED else user)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._owner = 0

    def start(self) -> None:
        with self._lock:
            self._ensure()

    def _ensure(self) -> socket.socket:
        # A forked copy of this object (Dramatiq forks worker processes) starts its own.
        if self._owner == os.getpid() and self._proc and self._proc.poll() is None:
            return self._sock  # type: ignore[return-value]
        if self._sock is not None:
            self._sock.close()
        hide_environment()
        ours, theirs = socket.socketpair()
        code = "import sys, json; sys.path[:0] = json.loads(sys.argv[2]); " + (
            "from kat.runtime.forker import serve; "
            "serve(int(sys.argv[1]), json.loads(sys.argv[3]), json.loads(sys.argv[4]))"
        )
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                code,
                str(theirs.fileno()),
                json.dumps([os.path.abspath(p) for p in sys.path]),
                json.dumps(self.preload),
                json.dumps(self.user),
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            # No host variable reaches the helper either, so none can linger in a
            # library it preloads for the plugins (sys.path is passed explicitly).
            env={},
        )
        theirs.close()
        self._sock, self._owner = ours, os.getpid()
        return ours

    def stop(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()  # the helper exits on EOF and kills its children
                self._sock = None
            if self._proc is not None and self._owner == os.getpid():
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            self._proc = None

    def run(
        self,
        request: dict[str, Any],
        payload: bytes,
        timeout: float,
        stop: threading.Event | None = None,
    ) -> Outcome:
        """Run ``request`` (see :func:`kat.runtime.forker._child`) in a fresh child, at
        most ``timeout`` s; setting ``stop`` kills it (the job was cancelled)."""
        out_r, out_w = os.pipe()
        # The child's stdout and stderr: a pipe, of which only the tail is kept, so a
        # plugin printing in a loop until its deadline costs no disk.
        log_r, log_w = os.pipe()
        status, status_theirs = socket.socketpair()
        job = os.memfd_create("kat-job", os.MFD_CLOEXEC)
        scratch = tempfile.mkdtemp(prefix="kat-job-")
        proc = None
        try:
            # The child works in the scratch folder: relative plugin paths (the default
            # KAT_PLUGINS_DIR is ./plugins) must be made absolute here, in our cwd.
            paths = {k: os.path.abspath(request[k]) for k in ("code", "folder") if k in request}
            header = json.dumps({**request, **paths}).encode()
            with os.fdopen(job, "wb", closefd=False) as file:
                file.write(REQ.pack(len(header)) + header)
                file.write(payload)
            memory = int(request.get("memory", 1024))
            control = json.dumps({
                "memory": memory, "cwd": scratch, "user": self.user, "code": paths.get("code"),
            }).encode()  # fmt: skip
            message = REQ.pack(len(control)) + control
            fds = [out_w, status_theirs.fileno(), log_w, job]
            with self._lock:
                try:
                    sock = self._ensure()
                    proc = self._proc
                    socket.send_fds(sock, [message], fds)
                except OSError as exc:
                    self._proc = None  # restart next time
                    raise SandboxError(f"job helper unreachable: {exc}") from None
            for fd in (out_w, log_w, job):
                os.close(fd)
            out_w = log_w = job = -1
            status_theirs.close()
            # An outcome cannot honestly be much larger than the memory the child had;
            # a child streaming more is cut off so it cannot fill the worker's memory.
            limit = (memory << 20) + (1 << 20)
            # The job's memory is what it holds on top of what it starts with: the
            # interpreter forked from the helper and, for a normalizer, its raw.
            budget = _Budget(memory, proc.pid, len(payload))
            try:
                return self._watch(out_r, status, timeout, log_r, limit, budget, stop)
            except SandboxError:
                self._replace(proc)
                raise
        finally:
            for fd in (out_r, out_w, log_r, log_w, job):
                if fd >= 0:
                    os.close(fd)
            status.close()
            status_theirs.close()
            shutil.rmtree(scratch, ignore_errors=True)

    def _replace(self, proc: subprocess.Popen | None) -> None:
        """Kill a helper that failed a job (stopped, hung or gone): the next job starts
        a new one. Jobs the old one still runs fail their attempt and are retried."""
        with self._lock:
            if proc is None or proc is not self._proc or self._owner != os.getpid():
                return
            with contextlib.suppress(OSError):
                proc.kill()  # SIGKILL ends a stopped process too
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            self._proc = None

    def _watch(
        self, out_r: int, status: socket.socket, timeout: float, log_r: int, limit: int,
        budget: _Budget, stop: threading.Event | None = None,
    ) -> Outcome:  # fmt: skip
        pid = _read_msg(status, b"P", SPAWN_TIMEOUT)
        try:
            return self._follow(pid, out_r, status, timeout, log_r, limit, budget, stop)
        except SandboxError:
            # The helper is gone or stuck: nobody else will stop this job.
            processes.kill_all(processes.descendants(pid))
            killpg(pid)
            raise

    def _follow(
        self, pid: int, out_r: int, status: socket.socket, timeout: float, log_r: int, limit: int,
        budget: _Budget, stop: threading.Event | None = None,
    ) -> Outcome:  # fmt: skip
        started = time.monotonic()
        deadline, drain_until = started + timeout, None
        next_poll, over_memory, cancelled = started + MEMORY_POLL, False, False
        chunks: list[bytes] = []
        wait_status: int | None = None
        timed_out, out_open, log_open, received = False, True, True, 0
        tail = b""  # the last OUTPUT_TAIL bytes of the child's stdout/stderr
        while out_open or log_open or wait_status is None:
            now = time.monotonic()
            if wait_status is not None:
                drain_until = drain_until or now + DRAIN_TIMEOUT
                if now >= drain_until:
                    break  # something still holds the pipe; the group is killed anyway
                wait = drain_until - now
            elif not timed_out:
                wait = max(0.0, min(deadline, next_poll) - now)
            else:
                wait = SPAWN_TIMEOUT
            wait = min(wait, MAX_WAIT)  # select() refuses a time past the clock's range
            watched = [status] if wait_status is None else []
            pipes = ([out_r] if out_open else []) + ([log_r] if log_open else [])
            ready, _, _ = select.select(pipes + watched, [], [], wait)
            if log_r in ready:
                chunk = os.read(log_r, 1 << 16)
                log_open = bool(chunk)
                tail = (tail + chunk)[-OUTPUT_TAIL:]
            if out_r in ready:
                chunk = os.read(out_r, 1 << 20)
                received += len(chunk)
                if not chunk:
                    out_open = False
                elif received <= limit:
                    chunks.append(chunk)
                elif chunks:  # too much: stop keeping it, kill the sender
                    chunks = []
                    killpg(pid)
            if status in ready:
                wait_status = _read_msg(status, b"X", 1.0)
                duration = time.monotonic() - started
            if (
                wait_status is None
                and not (timed_out or over_memory or cancelled)
                and (time.monotonic() >= next_poll)
            ):
                next_poll = time.monotonic() + MEMORY_POLL
                if stop is not None and stop.is_set():  # cancelled: kill it all
                    processes.kill_all([pid, *processes.descendants(pid)])
                    cancelled = True
                elif budget.exceeded(pid):  # the job's processes together: kill them all
                    processes.kill_all([pid, *processes.descendants(pid)])
                    over_memory = True
            if not ready and wait_status is None:
                if timed_out:
                    raise SandboxError(f"job helper did not report the end of child {pid}")
                if time.monotonic() >= deadline:
                    killpg(pid)  # the deadline: kill the child and everything it started
                    timed_out = True
        if cancelled:
            detail = "cancelled while it ran: its processes were killed"
            return Outcome(False, FailureReason.CANCELLED, detail, duration=duration, output=tail)
        if over_memory:
            detail = f"the job's processes together held more than its limit of {budget.mib} MiB"
            return Outcome(False, FailureReason.MEMORY, detail, duration=duration, output=tail)
        if timed_out:
            return Outcome(
                False, FailureReason.TIMEOUT, f"killed after the limit of {timeout:g} s", [],
                duration=duration, output=tail,
            )  # fmt: skip
        if received > limit:
            detail = f"the job sent more than {limit >> 20} MiB, past its memory limit"
            return Outcome(False, FailureReason.BAD_OUTPUT, detail, duration=duration)
        outcome = decode(b"".join(chunks), wait_status)
        outcome.duration = duration
        if not outcome.ok:
            outcome.output = tail
        return outcome


class _Budget:
    """A job's memory limit for all its processes: ``mib`` on top of what the job
    starts with (the helper's memory, inherited, and the payload it reads)."""

    def __init__(self, mib: int, helper: int, payload: int) -> None:
        self.mib, self._helper, self._payload = mib, helper, payload
        self._limit: int | None = None

    def exceeded(self, pid: int) -> bool:
        if self._limit is None:  # measured once, and only for a job that lasts
            start = processes.anonymous_memory(self._helper) + self._payload
            self._limit = start + (self.mib << 20)
        return processes.job_memory(pid) > self._limit


def _read_msg(sock: socket.socket, kind: bytes, timeout: float) -> int:
    sock.settimeout(timeout)
    data = b""
    try:
        while len(data) < MSG.size:
            more = sock.recv(MSG.size - len(data))
            if not more:
                raise SandboxError("job helper died")
            data += more
    except TimeoutError:
        raise SandboxError("job helper did not answer") from None
    got, value = MSG.unpack(data)
    if got != kind:
        raise SandboxError(f"job helper sent {got!r}, expected {kind!r}")
    return value
