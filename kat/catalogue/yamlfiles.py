"""YAML files that people keep in git: safe loading with line numbers, stable dumping,
and atomic writes under a lock.

Writers hold an ``fcntl.flock`` on a separate lock file (never on the data file itself,
which ``os.replace`` swaps out from under any lock held on it). ``flock`` locks belong to
an open file, so threads and processes exclude each other alike, and a person can take
the same lock from a shell: ``flock catalogue/.lock $EDITOR catalogue/organisations/x.yaml``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class Invalid(Exception):
    """Raised by a validator: ``keys`` lead to the offending node (for its line number)."""

    def __init__(self, keys: tuple[Any, ...], reason: str) -> None:
        super().__init__(reason)
        self.keys, self.reason = keys, reason


class FileProblem(ValueError):
    """A file that does not parse or validate; ``str()`` reads ``path:line: reason``."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


def parse(text: str, path: Path | str) -> Any:
    """``yaml.safe_load`` of ``text``; :class:`FileProblem` with the line on a syntax error."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise FileProblem(path, line, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise FileProblem(path, None, f"invalid YAML: {exc}") from None
    except RecursionError:  # libyaml allows 1,000 levels; Python's stack gives out first
        raise FileProblem(path, None, "invalid YAML: nested too deeply") from None
    except (ValueError, TypeError, OverflowError):
        # A scalar its tag or type cannot take (a 13th month, `!!float abc`, an integer of
        # 5,000 digits). The message is not passed on: it may quote the value.
        raise FileProblem(
            path, None, "invalid YAML: a value cannot be read as its type (date, number, !!tag)"
        ) from None


def line_of(text: str, keys: tuple[Any, ...]) -> int | None:
    """The 1-based line of the node reached by ``keys`` (mapping keys), for error messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    line = node.start_mark.line + 1 if node else None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if key_node.value == str(key):
                line, node = key_node.start_mark.line + 1, value_node
                break
        else:
            break
    return line


def dump(data: Any) -> str:
    """Block-style YAML, keys in the order given, one value per line (never wrapped)."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=2**31 - 1,
    )


def read(path: Path) -> tuple[str, os.stat_result]:
    """The text of ``path`` and the stat of the very file read (FileNotFoundError if gone;
    :class:`FileProblem` with the line when it is not UTF-8 or cannot be read)."""
    try:
        with open(path, "rb") as handle:
            data, st = handle.read(), os.fstat(handle.fileno())
    except FileNotFoundError:
        raise
    except OSError as exc:  # a folder named x.yaml, no permission, …
        raise FileProblem(path, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8"), st
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileProblem(path, line, "not UTF-8 text") from None


def stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file is replaced or rewritten."""
    return (st.st_ino, st.st_mtime_ns, st.st_size, st.st_ctime_ns)


def write_atomic(path: Path, text: str, sync_folder: bool = True) -> os.stat_result:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never half.

    A temp file in the same folder, fsync, ``os.replace``, then fsync of the folder so the
    rename itself survives a crash (left to the caller with ``sync_folder=False``, who
    must call :func:`fsync_folder` before it reports the write done).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # A strictly newer mtime than the file it replaces: readers that compare stat
        # results then never mistake this version for the last (timestamps are coarse).
        # The mode is the old file's (an operator may have made it private), else 0644.
        try:
            old = os.stat(path)
            previous, mode = old.st_mtime_ns, old.st_mode & 0o7777
        except FileNotFoundError:
            previous, mode = 0, 0o644
        os.chmod(tmp, mode)
        stamp = max(time.time_ns(), previous + 1)
        os.utime(tmp, ns=(stamp, stamp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    st = os.stat(path)
    if sync_folder:
        fsync_folder(path.parent)
    return st


def fsync_folder(folder: Path) -> None:
    """fsync of a folder: the names of the files renamed into it survive a crash."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if needed) for the block."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


#: Checked paths a folder keeps at once.
MAX_PATHS = 20_000


class Folder:
    """One folder of YAML objects with a stat-checked cache of their last good state."""

    def __init__(
        self,
        folder: Path,
        validate: Callable[[Any, str], dict],
        check_id: Callable[[str], str],
        missing: type[Exception],
        broken: type[Exception],
        noun: str = "object",
    ) -> None:
        self.folder, self.validate, self.check_id, self.noun = folder, validate, check_id, noun
        self.missing, self.broken = missing, broken
        # id -> (stat key, last good data, whether the data is that very file's content)
        self.cache: dict[str, tuple[tuple, dict | None, bool]] = {}
        # id -> why its file, as it is on disk now, is broken
        self.broken_files: dict[str, FileProblem] = {}
        # id -> its checked path (building and checking one is most of a cached read)
        self._paths: dict[str, Path] = {}

    def path(self, obj_id: str) -> Path:
        """The file of ``obj_id`` (checked: never a path outside the folder)."""
        known = self._paths.get(obj_id)
        if known is None:
            known = self.folder / f"{self.check_id(obj_id)}.yaml"
            if len(self._paths) >= MAX_PATHS:
                self._paths.clear()
            self._paths[obj_id] = known
        return known

    def _missing(self, obj_id: str) -> Exception:
        return self.missing(f"{self.noun} {obj_id!r} does not exist")

    def parse(self, path: Path, obj_id: str, text: str) -> dict[str, Any]:
        data = parse(text, path)
        try:
            return self.validate(data, obj_id)
        except Invalid as exc:
            raise FileProblem(path, line_of(text, exc.keys), exc.reason) from None

    def get(self, obj_id: str) -> dict[str, Any]:
        """The object's last good state (re-read when its file changed)."""
        path = self.path(obj_id)
        try:
            key = stat_key(os.stat(path))
        except FileNotFoundError:
            self.cache.pop(obj_id, None)
            self.broken_files.pop(obj_id, None)
            raise self._missing(obj_id) from None
        cached = self.cache.get(obj_id)
        if cached and cached[0] == key and cached[1] is not None:
            return cached[1]
        try:
            text, st = read(path)
            data = self.parse(path, obj_id, text)
        except FileNotFoundError:
            self.cache.pop(obj_id, None)
            self.broken_files.pop(obj_id, None)
            raise self._missing(obj_id) from None
        except (FileProblem, OSError) as exc:
            if not isinstance(exc, FileProblem):
                exc = FileProblem(path, None, f"cannot read: {exc.strerror or exc}")
            self.broken_files[obj_id] = exc
            good = cached[1] if cached else None
            if not cached or cached[0] != key:  # log each broken version once
                kept = "keeping its last good state" if good else "no good state to serve"
                logger.error("catalogue file %s (%s)", exc, kept)
            self.cache[obj_id] = (key, good, False)
            if good is None:
                raise self.broken(f"catalogue file {exc}") from None
            return good
        self.cache[obj_id] = (stat_key(st), data, True)
        self.broken_files.pop(obj_id, None)
        return data

    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        found = (n[:-5] for n in names if n.endswith(".yaml") and not n.startswith("."))
        ok = []
        for obj_id in found:
            with contextlib.suppress(ValueError):
                ok.append(self.check_id(obj_id))
        return sorted(ok)

    def all(self) -> list[dict[str, Any]]:
        """Every object with a good state, in id order; broken files are logged and skipped."""
        out = []
        for obj_id in self.ids():
            try:
                out.append(self.get(obj_id))
            except (self.missing, self.broken):
                continue
        return out

    def problems(self) -> list[FileProblem]:
        """Every file of the folder that is broken as it is on disk now, in id order."""
        self.all()
        present = set(self.ids())
        for gone in set(self.broken_files) - present:
            self.broken_files.pop(gone, None)
        return [self.broken_files[i] for i in sorted(self.broken_files)]

    def parse_file(self, obj_id: str) -> dict[str, Any]:
        """The file as on disk, strictly: FileProblem (path and line) when it is broken."""
        path = self.path(obj_id)
        return self.parse(path, obj_id, read(path)[0])

    def load_fresh(self, obj_id: str) -> tuple[Path, dict[str, Any], tuple]:
        """For a writer holding the lock: the file as it is on disk now (the cache only
        when it holds exactly that version)."""
        path = self.path(obj_id)
        try:
            key = stat_key(os.stat(path))
            cached = self.cache.get(obj_id)
            if cached and cached[0] == key and cached[2]:
                return path, cached[1], key
            text, st = read(path)
            return path, self.parse(path, obj_id, text), stat_key(st)
        except FileNotFoundError:
            raise self._missing(obj_id) from None
        except FileProblem as exc:
            raise self.broken(f"catalogue file {exc}: fix it before writing") from None

    def store(
        self,
        obj_id: str,
        path: Path,
        text: str,
        data: dict[str, Any] | None = None,
        sync_folder: bool = True,
    ) -> None:
        """Write the object's file; ``data`` is what parsing ``text`` would give, if known."""
        st = write_atomic(path, text, sync_folder)
        self.cache[obj_id] = (stat_key(st), data or self.parse(path, obj_id, text), True)
        self.broken_files.pop(obj_id, None)
