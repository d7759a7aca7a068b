"""Picks up hand edits and ``git pull`` without a restart: a watchfiles thread per
KATalogus process (per gunicorn worker, never in the master, whose forks would not
inherit the thread)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import watchfiles

from kat.catalogue import Catalogue
from kat.katalogus.registry import PluginRegistry

logger = logging.getLogger(__name__)

#: Milliseconds to gather changes before acting (a `git pull` touches many files at once).
DEBOUNCE_MS = 200


def _is_relevant(change: watchfiles.Change, path: str) -> bool:
    name = Path(path).name
    return not (name.endswith(".tmp") or name == ".lock" or "__pycache__" in path)


class Watcher:
    """Watches the catalogue and plugins folders in a daemon thread."""

    def __init__(self, catalogue: Catalogue, registry: PluginRegistry) -> None:
        self.catalogue, self.registry = catalogue, registry
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="kat-watch", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def _run(self) -> None:
        catalogue_dir = self.catalogue.root.resolve()
        plugins_dir = self.registry.plugins_dir.resolve()
        roots = [p for p in (catalogue_dir, plugins_dir) if p.is_dir()]
        try:
            for changes in watchfiles.watch(
                *roots,
                watch_filter=_is_relevant,
                debounce=DEBOUNCE_MS,
                stop_event=self.stop_event,
                raise_interrupt=False,
            ):
                paths = [Path(p) for _c, p in changes]
                self.catalogue.refresh([p for p in paths if p.is_relative_to(catalogue_dir)])
                if any(p.is_relative_to(plugins_dir) for p in paths):
                    self.registry.reload()
                    logger.info("plugins reloaded: %d plugins", len(self.registry.plugins))
        except Exception:  # never let the watcher take the worker down
            logger.exception("file watcher stopped; files are still re-read when they change")
