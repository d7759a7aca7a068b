"""Who a job runs as, and what it can still reach once it is that user.

A worker that runs as root runs its plugins as another user (``KAT_JOB_USER``, default
``nobody``): a plugin then can neither signal its worker or its job helper, nor read
their memory or ``/proc/PID/environ``. The kernel makes a process
that changed its user non-dumpable, so jobs of other organisations running as the same
user cannot read each other's memory either; without a switch the child makes itself
non-dumpable.

A job user may not be able to walk to the plugin's folder or to kat's own packages (a
clone in a ``0700`` folder, a virtualenv in root's home). The child opens those folders
while it is still root and, after the switch, reaches the ones it could not otherwise
through ``/proc/self/fd/N``: a process may always follow its own open descriptors, and
a lookup below a descriptor checks only the folders below it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import sys
import threading

from kat.config import ConfigError

#: prctl options (Linux).
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
#: mallopt option: the most malloc arenas (glibc reserves 64 MiB of address space each).
M_ARENA_MAX = -8
#: Stack size of each thread a plugin starts, in bytes. RLIMIT_AS counts a thread's
#: whole stack (8 MiB by default) and its malloc arena (64 MiB), so 23 threads used to
#: exhaust a 1 GiB limit; with these, ``ThreadPoolExecutor(64)`` fits easily.
THREAD_STACK = 1 << 20
#: Malloc arenas a job's process may create (threads share them).
MALLOC_ARENAS = 2
#: RLIMIT_NPROC of a job user: the processes and threads that user may have in all
#: (every job running as it, together), so a fork bomb cannot take the machine's pids.
JOB_PROCESSES = 2048


try:  # loaded once, in the helper: every job inherits it
    LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:
    LIBC = None


def prctl(option: int, value: int) -> bool:
    """Set a process attribute; False where the call is not available."""
    with contextlib.suppress(OSError, AttributeError):
        return LIBC.prctl(option, value, 0, 0, 0) == 0
    return False


def resolve(name: str | None) -> tuple[int, int] | None:
    """The uid and gid jobs run as for ``KAT_JOB_USER=name``; None: the worker's own.

    Raises :class:`ConfigError` for a user that does not exist, or for a switch that a
    worker which is not root cannot make (a silent fallback would hide the risk).
    """
    if not name:
        return None
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
        uid, gid = entry.pw_uid, entry.pw_gid
    except KeyError:
        if not name.isdigit():
            raise ConfigError(f"KAT_JOB_USER={name!r}: no such user") from None
        uid = gid = int(name)  # a bare number needs no entry in /etc/passwd
    if uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        raise ConfigError(
            f"KAT_JOB_USER={name!r}: only a worker running as root can run jobs as another user"
        )
    return uid, gid


def become(user: tuple[int, int] | None, folders: list[str]) -> dict[str, str]:
    """Switch this process to ``user`` (if any) and make it non-dumpable.

    Returns the folders of ``folders`` the new user cannot reach, each mapped to a
    ``/proc/self/fd/N`` path that still reaches it.
    """
    held: dict[str, int] = {}
    if user is not None:
        for folder in dict.fromkeys(folders):
            with contextlib.suppress(OSError):
                held[folder] = os.open(folder, os.O_PATH | os.O_DIRECTORY)
        import resource

        resource.setrlimit(resource.RLIMIT_NPROC, (JOB_PROCESSES, JOB_PROCESSES))
        uid, gid = user
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    prctl(PR_SET_DUMPABLE, 0)
    routes = {}
    for folder, fd in held.items():
        if os.access(folder, os.R_OK | os.X_OK):
            os.close(fd)
        else:
            routes[folder] = f"/proc/self/fd/{fd}"
    return routes


def reroute(path: str, routes: dict[str, str]) -> str:
    """``path`` through the route of the deepest folder of ``routes`` it is in."""
    for folder in sorted(routes, key=len, reverse=True):
        if path == folder or path.startswith(folder.rstrip("/") + "/"):
            return routes[folder] + path[len(folder) :]
    return path


def reroute_imports(routes: dict[str, str]) -> None:
    """Point ``sys.path`` and loaded packages' ``__path__`` at the routes, so that the
    modules a plugin imports later are found where the job user can read them."""
    if not routes:
        return
    sys.path[:] = [reroute(p, routes) for p in sys.path]
    sys.path_importer_cache.clear()
    for module in list(sys.modules.values()):
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [reroute(p, routes) for p in search]


def reach_imports(user: tuple[int, int] | None) -> dict[str, str]:
    """Once, in the job helper: route the import folders ``user`` cannot reach.

    Each such folder is opened here, as root, and ``sys.path`` and the loaded packages
    are pointed at its ``/proc/self/fd/N`` path. Every job forked from the helper
    inherits the descriptors and the rerouted paths, so a job only routes its plugin's
    own folders instead of reopening and rerouting every import folder. The folders
    the user cannot reach are found by a probe process that switches to the user.
    """
    if user is None:
        return {}
    folders = import_folders()
    routes = {}
    for folder in _unreachable(user, folders):
        with contextlib.suppress(OSError):
            routes[folder] = f"/proc/self/fd/{os.open(folder, os.O_PATH | os.O_DIRECTORY)}"
    reroute_imports(routes)
    return routes


def _unreachable(user: tuple[int, int], folders: list[str]) -> list[str]:
    """The folders of ``folders`` that ``user`` cannot read and enter (all of them when
    the probe fails: a route through a held descriptor works either way)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the probe: switch user, test each folder, report, exit
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
            blocked = [f for f in folders if not os.access(f, os.R_OK | os.X_OK)]
            os.write(write, "\0".join(blocked).encode() or b"\0")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        data = answer.read()
    _pid, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return folders
    return [f for f in data.decode().split("\0") if f]


def import_folders() -> list[str]:
    """The folders imports come from: ``sys.path`` entries that are folders."""
    return [p for p in sys.path if p and os.path.isdir(p)]


def tame_threads() -> None:
    """Small thread stacks and few malloc arenas: a threaded plugin's address space
    stays close to the memory it really uses, so RLIMIT_AS limits memory, not threads."""
    threading.stack_size(THREAD_STACK)
    with contextlib.suppress(OSError, AttributeError):
        LIBC.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
