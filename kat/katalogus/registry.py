"""The plugins the KATalogus serves: the LOCAL repository (the plugins folder), found with
the same discovery code the workers use, shown as OpenKAT's plugin JSON."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import jsonschema

from kat.catalogue import LOCAL, CatalogueError, NotFound, settings
from kat.catalogue.plugins import Plugin, discover
from kat.catalogue.settings import InvalidSettings

__all__ = ["BrokenSchema", "InvalidSettings", "PluginRegistry", "UnknownPlugin"]

logger = logging.getLogger(__name__)


class UnknownPlugin(NotFound):
    """No plugin with this id in the plugins folder."""


class BrokenSchema(CatalogueError):
    """A plugin's ``schema.json`` that cannot be applied (HTTP 503, like a broken file)."""


class PluginRegistry:
    """Discovered plugins, reloaded when the plugins folder changes."""

    def __init__(self, plugins_dir: Path) -> None:
        self.plugins_dir = plugins_dir
        self._lock = threading.Lock()
        self.plugins: dict[str, Plugin] = {}
        self.problems: list[str] = []
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        self.reload()

    def reload(self) -> None:
        """Discover again; a plugin with a bad manifest is skipped, the rest still serve."""
        plugins, problems = discover(self.plugins_dir)
        with self._lock:
            self.plugins, self.problems = plugins, problems
            self._validators = {p.id: settings.validator(p.schema) for p in plugins.values()}

    def get(self, plugin_id: str) -> Plugin:
        plugin = self.plugins.get(plugin_id)
        if plugin is None:
            raise UnknownPlugin(f"plugin {plugin_id!r} does not exist")
        return plugin

    def all(self, repository: str | None = None) -> list[Plugin]:
        if repository not in (None, LOCAL):
            return []  # other repositories are recorded, never downloaded
        return sorted(self.plugins.values(), key=lambda p: p.id)

    def validate(self, plugin_id: str, values: dict[str, Any], partial: bool = False) -> None:
        """Raise :class:`InvalidSettings` naming what breaks the schema (never a value).

        ``partial`` ignores missing required settings, so they can be set one at a time.
        """
        try:
            settings.check(plugin_id, self._validators.get(plugin_id), values, partial)
        except settings.UnusableSchema as exc:  # the plugin's fault, not the client's
            raise BrokenSchema(f"plugin {plugin_id!r}: {exc}"[:500]) from None


def plugin_json(plugin: Plugin, enabled: bool | None) -> dict[str, Any]:
    """OpenKAT's plugin fields, with the organisation's state (else the default)."""
    out: dict[str, Any] = {
        "id": plugin.id,
        "name": plugin.name,
        "type": plugin.type,
        "description": plugin.description,
        "version": plugin.version,
        "enabled": plugin.enabled if enabled is None else enabled,
        "repository_id": plugin.repository,
        "consumes": list(plugin.consumes),
        "produces": list(plugin.produces),
        "static": True,
    }
    if plugin.type == "boefje":
        out["scan_level"] = plugin.scan_level
        out["has_schema"] = plugin.schema is not None
        out["environment_keys"] = sorted((plugin.schema or {}).get("properties", {}))
    return out


def matches(
    item: dict[str, Any],
    plugin_type: str | None,
    state: bool | None,
    q: str | None,
    consumes: str | None,
    produces: str | None,
) -> bool:
    """The list filters of ``GET …/plugins``."""
    if plugin_type and item["type"] != plugin_type:
        return False
    if state is not None and item["enabled"] != state:
        return False
    if q:
        text = " ".join((item["id"], item["name"], item["description"])).lower()
        if q.lower() not in text:
            return False
    if consumes and consumes not in item["consumes"]:
        return False
    return not (produces and produces not in item["produces"])
