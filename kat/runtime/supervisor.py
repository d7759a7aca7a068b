"""A job's supervisor: the process the helper forks per job, which forks the plugin's.

::

    helper ──fork──► supervisor (the job's pid; setsid, subreaper, root when the worker is)
                          └──fork──► plugin process (job user, rlimits) ──► its children …

Why a process of its own between the helper and the plugin:

- It is a *subreaper*: whatever the plugin starts and orphans (a double fork, a
  ``setsid()`` daemon) is re-parented to it, not to PID 1. When the plugin's process
  ends, the supervisor kills every descendant left, so nothing a job started outlives it.
- It measures the memory of the *whole job*, every process of it, and kills the job
  past its limit (RLIMIT_AS holds each process alone: four children of 900 MB each fit
  under a 1 GiB one). It exits with :data:`MEMORY_EXIT` to say so.
- It watches its helper: when the helper dies, the job is killed with all it started.

It then exits with the plugin's own status (signal or exit code), so the worker reads
the job's end from the helper's report as before.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable

from kat.runtime.isolation import PR_SET_CHILD_SUBREAPER, prctl

#: The supervisor's exit code when it killed the job for its memory; a plugin's own
#: exit with this code is reported as 1.
MEMORY_EXIT = 125
#: How often the supervisor measures the job's memory, in seconds.
POLL = 0.05
#: How long killing a job's processes may keep trying (a fork loop), in seconds.
KILL_TIMEOUT = 2.0
#: The most processes one walk of a job's tree looks at.
MAX_PROCESSES = 10_000

PAGE = os.sysconf("SC_PAGE_SIZE")


def children(pid: int) -> list[int]:
    """The live children of ``pid`` (of all its threads)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        with (
            contextlib.suppress(OSError, ValueError),
            open(f"/proc/{pid}/task/{task}/children") as kids,
        ):
            found.extend(int(kid) for kid in kids.read().split())
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, parents before their children."""
    found, todo = [], [pid]
    while todo and len(found) < MAX_PROCESSES:
        kids = children(todo.pop())
        found.extend(kids)
        todo.extend(kids)
    return found


def anonymous_memory(pid: int) -> int:
    """Resident memory of ``pid`` that is its own (not files or shared libraries), bytes."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            fields = statm.read().split()
        return max(0, int(fields[1]) - int(fields[2])) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _reap_any() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def kill_descendants(reap: Callable[[], None] = _reap_any) -> None:
    """SIGKILL every process below this one, until none is left (or KILL_TIMEOUT)."""
    deadline = time.monotonic() + KILL_TIMEOUT
    while True:
        left = descendants(os.getpid())
        kill_all(left)
        reap()
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.001)


def supervise(pid: int, memory: int, helper: int) -> None:
    """Wait for the plugin's process ``pid``, watching the job's memory (bytes, the
    limit) and the helper; kill what is left, then exit as the plugin did. Never
    returns."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        ended = os.pidfd_open(pid)
    except OSError:  # no pidfd (Linux < 5.3): poll instead
        ended = None
    status = None
    while status is None:
        if ended is not None:
            if select.select([ended], [], [], POLL)[0]:
                status = os.waitpid(pid, 0)[1]
                break
        else:
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done:
                status = wait_status
                break
            time.sleep(POLL)
        if os.getppid() != helper:  # the helper is gone: so is the job
            kill_descendants()
            os._exit(1)
        used = sum(anonymous_memory(p) for p in descendants(os.getpid()))
        if used > memory:
            kill_descendants()
            os._exit(MEMORY_EXIT)
        _reap_orphans(pid)
    kill_descendants()
    _exit_as(status)


def _reap_orphans(plugin: int) -> None:
    """Reap the job's orphans that have ended (never the plugin's own process)."""
    for kid in children(os.getpid()):
        if kid != plugin:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(kid, os.WNOHANG)


def _exit_as(status: int) -> None:
    """Exit with the plugin's wait status: the same signal, or the same exit code."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(number, signal.SIG_DFL)
        with contextlib.suppress(OSError, ValueError):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
            os.kill(os.getpid(), number)
        os._exit(1)
    code = os.waitstatus_to_exitcode(status)
    os._exit(1 if code == MEMORY_EXIT else code)
