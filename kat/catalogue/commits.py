"""Group commit: the changes to one file that threads of a process queue while another
write runs are applied together and written once.

A catalogue write costs two ``fsync`` calls (the file, then its folder), a few
milliseconds on an ordinary disk, and writers take turns under one lock. One write per
change caps the writes at a few hundred a second, and ``flock`` is not fair: a crowd of
waiters starves some of them (a p99 of half a second). Here the thread that gets the
lock takes every change queued for the file, applies each in turn (one that fails is
left out, and only its caller gets the error), writes the result once and wakes the
others with their own results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: A change: gets the object as stored and mutates it; what it returns is its result.
Change = Callable[[dict[str, Any]], Any]


class Pending:
    """One queued change, its result or its error, and whether it is done (written and
    durable, or failed): only then does its caller get an answer."""

    __slots__ = ("change", "done", "error", "result", "settled")

    def __init__(self, change: Change) -> None:
        self.change = change
        self.result: Any = None
        self.error: BaseException | None = None
        self.settled = self.done = False

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        """Record the outcome (the batch is marked done once its write is durable)."""
        self.result, self.error, self.settled = result, error, True


#: Seconds a waiting writer sleeps before it looks at the lock again, should a wake-up be
#: missed (another writer, such as ``kat catalogue reseal``, takes the lock directly).
WAKE_SECONDS = 0.05

#: Writes a batch under the file lock: applies each change, writes once, settles every
#: change, and returns what makes the write durable (run once the lock is released: the
#: folder's fsync need not hold up the other processes), or None.
Commit = Callable[[str, list[Pending]], Callable[[], None] | None]


class GroupCommit:
    """Per-process queues of changes, one per file key, drained under the write lock."""

    def __init__(self, thread_lock: threading.Lock, file_lock: Callable[[], Any]) -> None:
        # Threads of this process take ``thread_lock`` first, so only one of them at a
        # time contends for ``file_lock`` (the flock shared with other processes).
        self._thread_lock, self._file_lock = thread_lock, file_lock
        self._queue = threading.Condition()  # guards _pending; notified after each write
        self._pending: dict[str, list[Pending]] = {}

    def submit(self, key: str, change: Change, commit: Commit):
        """Queue ``change`` for ``key`` and return its result once it is written (or raise
        its error).

        The thread that finds the lock free writes every change queued for ``key`` so far;
        the others wait to be woken, and find their change written, or take the lock in
        turn. Waiting on the queue, not on the lock, is what lets the queue grow while a
        write runs: the next write then takes all of it.
        """
        item = Pending(change)
        with self._queue:
            self._pending.setdefault(key, []).append(item)
        while True:
            with self._queue:
                while not item.done and not self._thread_lock.acquire(blocking=False):
                    self._queue.wait(timeout=WAKE_SECONDS)
                if item.done:
                    break
            try:
                self._commit_queued(key, commit)
            finally:
                self._thread_lock.release()
                with self._queue:
                    self._queue.notify_all()
        if item.error is not None:
            raise item.error
        return item.result

    def _commit_queued(self, key: str, commit: Commit) -> None:
        """Take the file lock, then every change queued for ``key`` (those that arrived
        while another process held the lock too), write them, and make the write durable
        after the file lock is let go. An error taking the lock, or one the commit did
        not settle, goes to every change of the batch."""
        batch: list[Pending] = []
        try:
            with self._file_lock():
                with self._queue:
                    batch = self._pending.pop(key, [])
                durable = commit(key, batch)
            if durable is not None:
                durable()
        except BaseException as exc:  # not written, or not durable: every change failed
            with self._queue:
                batch = batch or self._pending.pop(key, [])
            for pending in batch:
                pending.settle(error=exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            for pending in batch:
                pending.done = True

    def wake(self) -> None:
        """Tell waiting writers the lock was released by a writer from outside the queue."""
        with self._queue:
            self._queue.notify_all()
