"""The job helper: a lean, single-threaded process that forks one job per request.

Started by :class:`kat.runtime.sandbox.ForkServer` (one per worker process) as a fresh
interpreter with an empty environment; it imports only the standard library, ``kat.ooi``
and the libraries the plugins use, never Dramatiq, so a fork copies no threads, locks
or broker connections. The protocol: the worker sends ``REQ`` (a length) and a small
JSON control header (memory limit, scratch folder, job user), with four file
descriptors attached (outcome pipe, status socket, output pipe, job file); the helper
answers on the status socket with ``MSG`` ``P`` + pid after the fork and ``X`` + wait
status when the job has ended.

The job itself (plugin, settings, input, a normalizer's raw) is in the *job file*, a
memfd the helper never reads: only the job's own process does, after the fork. So no
organisation's settings or raws ever sit in the helper's heap, from which every later
job of every organisation is forked. The job's process (:func:`_child`) keeps
everything it starts below itself and kills it when it ends (:mod:`kat.runtime.processes`).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys
from typing import Any

from kat.runtime import isolation, processes

#: Modules the helper always imports once, so each child starts with them loaded.
PRELOAD = ("json", "traceback", "importlib.util", "resource", "kat.ooi", "kat.pluginkit")

REQ = struct.Struct("!I")  #: length of the control header (and of the job file's header)
MSG = struct.Struct("!ci")  #: b"P" + pid, or b"X" + wait status


def killpg(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (a job's process and what it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def serve(control_fd: int, preload: list[str] = (), user: list[int] | None = None) -> None:
    """The helper's loop: fork a job per request, report its pid and wait status.

    ``user``: the job user ([uid, gid]) the import folders are routed for once, here
    (:func:`kat.runtime.isolation.reach_imports`); a request for another user routes
    them in its job."""
    # Ctrl-C and SIGTERM reach the worker's whole process group; the helper must
    # outlive them until its worker closes the control socket (jobs may be finishing).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for name in (*PRELOAD, *preload):
        with contextlib.suppress(Exception):  # a library that fails here fails in its job
            __import__(name)
    prepared = tuple(user) if user else None
    isolation.reach_imports(prepared)
    # Small thread stacks and few malloc arenas are process state a fork copies: set
    # once here, every job starts with them.
    isolation.tame_threads()
    # Orphans of a job that was killed (at its deadline) come to the helper, which kills
    # them (:func:`_kill_strays`), instead of to PID 1, where they would live on.
    isolation.prctl(isolation.PR_SET_CHILD_SUBREAPER, 1)
    isolation.prctl(isolation.PR_SET_DUMPABLE, 0)
    control = socket.socket(fileno=control_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, socket.socket] = {}
    scratch: dict[int, str] = {}  # pid -> the job's scratch folder (made by the worker)
    while True:
        ready, _, _ = select.select([control, wake_r], [], [])
        if wake_r in ready:
            while True:
                try:
                    if not os.read(wake_r, 512):
                        break
                except BlockingIOError:
                    break
        _reap(children, scratch)
        _kill_strays(children)
        if control in ready:
            request = _receive(control)
            if request is None:  # the worker process is gone: so are its jobs
                for pid in children:
                    killpg(pid)
                processes.kill_all(processes.descendants(os.getpid()))
                # A worker that died (or stopped past its grace period) never removed
                # the scratch folders of the jobs it had running; nobody else will.
                import shutil

                for folder in scratch.values():
                    shutil.rmtree(folder, ignore_errors=True)
                os._exit(0)
            header, (out_w, status_fd, log_fd, job_fd) = request
            status = socket.socket(fileno=status_fd)
            _compiled(header.get("code"))  # the child finds it in the cache
            pid = os.fork()
            if pid == 0:
                # The job keeps only its outcome pipe, log and job file: never a socket
                # the worker trusts (its own status socket included).
                control.close()
                status.close()
                for other in children.values():
                    other.close()
                os.close(wake_r)
                os.close(wake_w)
                _child(header, out_w, log_fd, job_fd, prepared)  # never returns
            for fd in (out_w, log_fd, job_fd):
                os.close(fd)
            children[pid] = status
            if header.get("cwd"):
                scratch[pid] = header["cwd"]
            try:
                status.sendall(MSG.pack(b"P", pid))
            except OSError:
                killpg(pid)


def _reap(children: dict[int, socket.socket], scratch: dict[int, str]) -> None:
    """Reap every exited child: a job's (report it) or an orphan of one (just reap)."""
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status = children.pop(pid, None)
        scratch.pop(pid, None)  # the worker removes it once it has the outcome
        if status is not None:
            killpg(pid)  # what is left in the job's group dies with it
            with contextlib.suppress(OSError):
                status.sendall(MSG.pack(b"X", wait_status))
            status.close()


def _kill_strays(children: dict[int, socket.socket]) -> None:
    """Kill every child of the helper that is not a job, with all below it: it was
    started by a job that is gone (killed at its deadline), and must not outlive it."""
    for pid in processes.children(os.getpid()):
        if pid not in children:
            processes.kill_all([pid, *processes.descendants(pid)])


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    parts, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _receive(control: socket.socket):
    try:
        data, fds, _flags, _addr = socket.recv_fds(control, REQ.size, 4)
        if not data:
            return None
        data += _recv_exact(control, REQ.size - len(data))
        (size,) = REQ.unpack(data)
        header = json.loads(_recv_exact(control, size))
    except (EOFError, OSError, ValueError):
        return None
    if len(fds) != 4:  # not a request of ours: the worker is broken or gone
        for fd in fds:
            os.close(fd)
        return None
    return header, fds


#: Plugin code compiled by the helper: file -> ((mtime, size), code object). Compiling
#: runs none of the plugin's code; a job forked after it only executes the code object,
#: where it would otherwise look for bytecode, read and compile the file each time.
_CODE: dict[str, tuple[tuple[int, int], Any]] = {}
#: The most plugin files the helper keeps compiled.
CODE_KEPT = 512


def _compiled(path: str | None) -> Any:
    """The code object of the plugin file ``path``, compiled once per version of the
    file; None when it cannot be read or compiled (the job then imports it itself, and
    fails with the plugin's own error)."""
    if not path:
        return None
    try:
        info = os.stat(path)
        version = (info.st_mtime_ns, info.st_size)
        known = _CODE.get(path)
        if known is not None and known[0] == version:
            return known[1]
        with open(path, "rb") as source:
            code = compile(source.read(), path, "exec", dont_inherit=True)
    except Exception:  # noqa: BLE001 - OSError, SyntaxError, ValueError, RecursionError …
        _CODE.pop(path, None)
        return None
    if len(_CODE) >= CODE_KEPT:
        _CODE.clear()
    _CODE[path] = (version, code)
    return code


# --- the job's process ----------------------------------------------------------------


def _read_job(job_fd: int) -> tuple[dict[str, Any], bytes]:
    """The job file: ``REQ`` + JSON header (plugin, settings, input) + payload (raw)."""
    total, parts, done = os.fstat(job_fd).st_size, [], 0
    while done < total:  # from its start, whatever offset the writer left
        chunk = os.pread(job_fd, total - done, done)
        if not chunk:
            break
        parts.append(chunk)
        done += len(chunk)
    os.close(job_fd)
    data = b"".join(parts)
    (size,) = REQ.unpack(data[: REQ.size])
    return json.loads(data[REQ.size : REQ.size + size]), data[REQ.size + size :]


def _send(out_w: int, header: dict[str, Any], blobs: list[bytes] = ()) -> None:
    encoded = json.dumps(header).encode()
    for data in (struct.pack("!I", len(encoded)) + encoded, *blobs):
        view = memoryview(data)
        while view:  # a pipe takes what fits; the worker reads as it comes
            view = view[os.write(out_w, view) :]


def _child(
    control: dict[str, Any], out_w: int, log_fd: int, job_fd: int,
    prepared: tuple[int, int] | None = None,
) -> None:  # fmt: skip
    """Set the plugin's process up, run the plugin, send the outcome, exit. Never returns.

    ``control``: ``memory`` (MiB), ``cwd`` (scratch folder), ``user`` ([uid, gid] or
    None; ``prepared``: the user the helper routed the import folders for). The job
    file's header: ``kind`` (boefje|normalizer), ``code`` (file),
    ``folder``, ``env``, ``argument`` (boefje_meta, or the normalizer's input_ooi); its
    payload: the normalizer's raw bytes.
    """
    code = 1
    try:
        os.setsid()  # own session and process group: killed as one
        # Whatever the plugin starts and orphans stays below this process (processes).
        isolation.prctl(isolation.PR_SET_CHILD_SUBREAPER, 1)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(devnull)
        os.close(log_fd)
        header, payload = _read_job(job_fd)
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # The limit is what the job may map on top of the interpreter it starts as, so
        # the libraries preloaded for the plugins do not eat into a plugin's allowance.
        memory = _address_space() + (int(control["memory"]) << 20)
        # No more than the worker may grant (its own hard limit, or what the kernel can
        # hold): asking for more fails, and the child would die before it could report.
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        memory = min(memory, (1 << 63) - 1 if hard == resource.RLIM_INFINITY else hard)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if control.get("cwd"):
            os.chdir(control["cwd"])  # a scratch folder of its own, removed after the job
        user = tuple(control["user"]) if control.get("user") else None
        if user and control.get("cwd"):
            os.chown(control["cwd"], *user)  # the job user's scratch folder
        folders = [header["folder"], os.path.dirname(header["code"])]
        if user != prepared:  # the helper routed the import folders for another user
            folders += isolation.import_folders()
        routes = isolation.become(user, folders)
        if user != prepared or any(isolation.reroute(p, routes) != p for p in sys.path):
            isolation.reroute_imports(routes)
        header["folder"] = isolation.reroute(header["folder"], routes)
        header["file"] = header["code"]  # as the helper compiled it
        header["code"] = isolation.reroute(header["code"], routes)
        os.environ.clear()
        os.environ.update(header["env"])
        code = _run_plugin(header, payload, out_w)
    except BaseException:  # noqa: B036 - the child must always report, then exit
        pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            processes.kill_descendants()  # nothing the job started outlives it
        finally:
            os._exit(code)


def _address_space() -> int:
    """This process's virtual memory size in bytes (what RLIMIT_AS counts)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _run_plugin(header: dict[str, Any], payload: bytes, out_w: int) -> int:
    import importlib.util
    import traceback

    try:
        sys.path.insert(0, header["folder"])
        name = f"kat_plugin_{header['kind']}"
        spec = importlib.util.spec_from_file_location(name, header["code"])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        known = _CODE.get(header.get("file", ""))
        if known is not None:
            exec(known[1], module.__dict__)  # noqa: S102 - the plugin's own code, compiled
        else:
            spec.loader.exec_module(module)
        if header["kind"] == "boefje":
            result = module.run(header["argument"])
            items, blobs = _check_raws(result)
            _send(out_w, {"ok": True, "raws": items}, blobs)
        else:
            objects = _check_objects(module.run(header["argument"], payload))
            _send(out_w, {"ok": True, "objects": objects})
        return 0
    except _BadOutput as exc:
        _send(out_w, {"ok": False, "reason": "bad-output", "detail": str(exc)})
    except MemoryError:
        _send(out_w, {"ok": False, "reason": "memory", "detail": "MemoryError: out of memory"})
    except BaseException:  # noqa: B036 - SystemExit and KeyboardInterrupt are crashes too
        _send(out_w, {"ok": False, "reason": "crashed", "detail": traceback.format_exc()})
    return 1


class _BadOutput(Exception):
    pass


def _check_raws(result: Any) -> tuple[list[dict[str, Any]], list[bytes]]:
    """A boefje returns ``[(mime types, bytes | str), ...]``; anything else is bad output."""
    if isinstance(result, str | bytes | dict) or not hasattr(result, "__iter__"):
        raise _BadOutput(f"run() returned {type(result).__name__}, not a list of (mime types, raw)")
    items, blobs = [], []
    for i, item in enumerate(result):
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise _BadOutput(f"item {i} of run()'s result is not a (mime types, raw) pair")
        mime_types, raw = item
        if isinstance(mime_types, str) or not all(isinstance(m, str) for m in mime_types):
            raise _BadOutput(f"item {i}: mime types must be a set of strings")
        if isinstance(raw, str):
            raw = raw.encode()
        if not isinstance(raw, bytes | bytearray):
            raise _BadOutput(f"item {i}: raw is {type(raw).__name__}, not bytes or str")
        items.append({"mime_types": sorted(set(mime_types)), "size": len(raw)})
        blobs.append(bytes(raw))
    return items, blobs


def _check_objects(result: Any) -> list[dict[str, Any]]:
    """A normalizer yields :class:`kat.ooi.OOI` objects; anything else is bad output."""
    from kat.ooi import OOI

    if result is None:
        return []
    if not hasattr(result, "__iter__"):
        raise _BadOutput(f"run() returned {type(result).__name__}, not OOIs")
    objects = []
    for i, obj in enumerate(result):
        if not isinstance(obj, OOI):
            raise _BadOutput(f"item {i} yielded by run() is {type(obj).__name__}, not an OOI")
        objects.append(obj.serialize())
    return objects
