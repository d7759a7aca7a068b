"""The declared scope: per organisation, the objects its people put in scope, each with
a scan level, and per-plugin schedule overrides.

One reviewable YAML file per organisation, ``catalogue/scopes/<org>.yaml``::

    objects:                              # reference: scan level 0-4
      Hostname|internet|example.com: 2
    plugins:                              # per plugin: interval or cron, not both,
      dns-records: {interval: 30s}        # and the scan level it needs here
      port-scan: {cron: "0 3 * * *", scan_level: 3}

Files are read through :class:`kat.catalogue.yamlfiles.Folder` (a hand edit is picked
up at the next read, a broken edit is logged with its line and the last good state
kept) and written atomically, keys sorted, under the catalogue's lock. With
``KATALOGUS_API`` set, :class:`RemoteScopes` reads the same scopes over the KATalogus's
scope routes (:func:`open_scopes` picks one).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from croniter import croniter

from kat.catalogue import yamlfiles
from kat.catalogue.catalogue import LOCK_NAME
from kat.catalogue.errors import BrokenFile, InvalidValue, NotFound, check_id
from kat.catalogue.yamlfiles import Folder, Invalid

MAX_LEVEL = 4
_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class NoScope(NotFound):
    """The organisation has no scope file yet (read as an empty scope)."""


def seconds(value: Any) -> int:
    """A duration (an integer of seconds, or ``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``)."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a text like 30s, 5m, 2h")
    if isinstance(value, int) and value > 0:
        return value
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) <= 0:
        raise ValueError(f"{value!r} is not a duration (a number of seconds, or 30s, 5m, 2h, 1d)")
    return int(match[1]) * _UNITS[match[2]]


def check_level(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LEVEL:
        raise ValueError(f"scan level {value!r} is not an integer from 0 to {MAX_LEVEL}")
    return value


def check_reference(value: Any) -> str:
    from kat.ooi import parse_reference

    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a reference")
    return parse_reference(value).reference  # ValueError naming what is wrong


@dataclass(frozen=True)
class Schedule:
    """A plugin's overrides for one organisation: when it runs (an interval in seconds,
    or a cron expression) and the scan level an object needs for it to run there."""

    interval: int | None = None
    cron: str | None = None
    #: Raises the manifest's ``scan_level`` for this organisation (never lowers it).
    scan_level: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cron": self.cron} if self.cron else {}
        if self.interval is not None:
            out["interval"] = self.interval
        if self.scan_level is not None:
            out["scan_level"] = self.scan_level
        return out


@dataclass(frozen=True)
class Scope:
    organisation: str
    objects: dict[str, int] = field(default_factory=dict)
    plugins: dict[str, Schedule] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The scope as the KATalogus serves it and ``kat scope list --json`` prints it."""
        return {
            "organisation": self.organisation,
            "objects": dict(sorted(self.objects.items())),
            "plugins": {pid: s.to_json() for pid, s in sorted(self.plugins.items())},
        }


def _validate(data: Any, org: str) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Invalid((), "a scope file is a mapping with 'objects' and 'plugins'")
    unknown = set(data) - {"objects", "plugins"}
    if unknown:
        raise Invalid((sorted(map(str, unknown))[0],), "unknown key (expected objects, plugins)")
    objects, plugins = data.get("objects") or {}, data.get("plugins") or {}
    if not isinstance(objects, dict):
        raise Invalid(("objects",), "'objects' maps references to scan levels")
    if not isinstance(plugins, dict):
        raise Invalid(("plugins",), "'plugins' maps plugin ids to {interval or cron, scan_level}")
    clean_objects = {}
    for ref, level in objects.items():
        try:
            clean_objects[check_reference(ref)] = check_level(level)
        except ValueError as exc:
            raise Invalid(("objects", ref), str(exc)) from None
    clean_plugins = {}
    for plugin_id, entry in plugins.items():
        try:
            check_id(str(plugin_id), "plugin id")
        except ValueError as exc:
            raise Invalid(("plugins", plugin_id), str(exc)) from None
        try:
            clean_plugins[plugin_id] = check_schedule(entry)
        except ValueError as exc:
            raise Invalid(("plugins", plugin_id), str(exc)) from None
    return {"objects": clean_objects, "plugins": clean_plugins}


def check_schedule(entry: Any) -> Schedule:
    """A plugin's entry, ``{"interval": …}`` or ``{"cron": …}`` and/or ``{"scan_level": N}``;
    ValueError naming what is wrong."""
    keys = set(entry) if isinstance(entry, dict) else set()
    if not keys or keys - {"interval", "cron", "scan_level"} or {"interval", "cron"} <= keys:
        raise ValueError("give 'interval' or 'cron' (not both), and/or 'scan_level'")
    cron = entry.get("cron")
    if "cron" in entry and (not isinstance(cron, str) or not croniter.is_valid(cron)):
        raise ValueError(f"{cron!r} is not a cron expression")
    interval = seconds(entry["interval"]) if "interval" in entry else None
    level = check_level(entry["scan_level"]) if "scan_level" in entry else None
    return Schedule(interval=interval, cron=cron, scan_level=level)


def _text(objects: dict[str, int], plugins: dict[str, Schedule]) -> str:
    out: dict[str, Any] = {"objects": dict(sorted(objects.items()))}
    if plugins:
        out["plugins"] = {pid: s.to_json() for pid, s in sorted(plugins.items())}
    return yamlfiles.dump(out)


class Scopes:
    """The scope files of a catalogue folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        folder = self.root / "scopes"
        self.folder = Folder(folder, _validate, check_id, NoScope, BrokenFile, "scope")
        self._lock_path = self.root / LOCK_NAME

    def organisations(self) -> list[str]:
        return self.folder.ids()

    def get(self, org: str) -> Scope:
        """The organisation's scope (empty without a file); BrokenFile if it never parsed."""
        try:
            data = self.folder.get(org)
        except NoScope:
            return Scope(org)
        return Scope(org, dict(data["objects"]), dict(data["plugins"]))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "scopes").mkdir(exist_ok=True)
        with yamlfiles.locked(self._lock_path):
            yield

    def _change(
        self,
        org: str,
        change: Callable[[dict[str, int]], None],
        change_plugins: Callable[[dict[str, Schedule]], None] | None = None,
    ) -> Scope:
        check_id(org, "organisation id")
        with self._locked():
            try:
                path, data, _key = self.folder.load_fresh(org)
            except NoScope:
                path, data = self.folder.path(org), {"objects": {}, "plugins": {}}
            objects, plugins = dict(data["objects"]), dict(data["plugins"])
            change(objects)
            if change_plugins is not None:
                change_plugins(plugins)
            self.folder.store(org, path, _text(objects, plugins))
        return Scope(org, objects, plugins)

    def set(self, org: str, reference: str, level: int) -> Scope:
        """Declare ``reference`` at ``level`` (add, or change its level)."""
        try:
            reference, level = check_reference(reference), check_level(level)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None

        def change(objects: dict[str, int]) -> None:
            objects[reference] = level

        return self._change(org, change)

    def remove(self, org: str, reference: str) -> Scope:
        """Take ``reference`` out of the declared scope; NotFound if it was not in it."""

        def change(objects: dict[str, int]) -> None:
            if objects.pop(reference, None) is None:
                raise NotFound(f"{reference!r} is not in the scope of {org!r}")

        return self._change(org, change)

    def set_schedule(self, org: str, plugin_id: str, entry: dict[str, Any] | None) -> Scope:
        """Set when a plugin runs for ``org``: ``{"interval": …}`` or ``{"cron": …}``,
        and/or ``{"scan_level": N}``; ``None`` removes the interval or cron (the plugin's
        own interval applies again). A ``scan_level`` already set stays unless given."""
        try:
            check_id(plugin_id, "plugin id")
            schedule = None if entry is None else check_schedule(entry)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None

        def change_plugins(plugins: dict[str, Schedule]) -> None:
            old = plugins.pop(plugin_id, None)
            level = old.scan_level if old else None
            if schedule is not None:
                new = schedule
                if new.scan_level is None and level is not None:
                    new = Schedule(new.interval, new.cron, level)
                plugins[plugin_id] = new
            elif level is not None:
                plugins[plugin_id] = Schedule(scan_level=level)

        return self._change(org, lambda objects: None, change_plugins)


class RemoteScopes:
    """The scopes of a KATalogus (``KATALOGUS_API``), read over its scope routes and
    checked as a scope file is: the scheduler and ``kat objects`` on another machine."""

    def __init__(self, client: Any) -> None:
        self.client = client  #: a :class:`kat.catalogue.client.KatalogusClient`

    def organisations(self) -> list[str]:
        return self.client.organisations()

    def get(self, org: str) -> Scope:
        body = self.client.scope(org)
        try:
            if not isinstance(body, dict):
                raise Invalid((), "the answer is not a scope")
            data = _validate({k: body.get(k) for k in ("objects", "plugins")}, org)
        except Invalid as exc:
            where = "".join(f"{key}: " for key in exc.keys)
            raise BrokenFile(f"KATALOGUS_API scope of {org!r}: {where}{exc.reason}") from None
        return Scope(org, data["objects"], data["plugins"])


def open_scopes(settings: Any) -> Scopes | RemoteScopes:
    """The scope files under ``KAT_CATALOGUE_DIR``, or the KATalogus at ``KATALOGUS_API``."""
    if settings.katalogus_api:
        from kat.catalogue.client import KatalogusClient

        return RemoteScopes(KatalogusClient(settings.katalogus_api, settings.katalogus_api_token))
    return Scopes(settings.catalogue_dir)
