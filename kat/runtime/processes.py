"""A job's processes: finding, measuring and killing every process a job started.

A job's process is a *subreaper*: whatever the plugin starts and orphans (a double
fork, a ``setsid()`` daemon) is re-parented to it rather than to PID 1, so all of a
job stays below it. When the plugin returns, the job's process kills every descendant
before it exits; when it dies first (killed at its deadline, or by the plugin), its
orphans go to the job helper, itself a subreaper, which kills every child that is not
a job. Either way nothing a job started outlives it.

The worker measures the memory of the whole job (:func:`job_memory`) while it waits:
RLIMIT_AS holds each process alone, so four children of 900 MB each fit under a
1 GiB one; their sum does not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

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
    """SIGKILL each of ``pids`` (gone or not ours: skipped)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _reap_any() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def kill_descendants() -> None:
    """SIGKILL every process below this one and reap them, until none is left (or
    KILL_TIMEOUT: a fork loop)."""
    deadline = time.monotonic() + KILL_TIMEOUT
    while True:
        left = descendants(os.getpid())
        kill_all(left)
        _reap_any()
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.001)


def job_memory(pid: int) -> int:
    """The anonymous resident memory of ``pid`` and every process below it, bytes."""
    return sum(anonymous_memory(p) for p in [pid, *descendants(pid)])
