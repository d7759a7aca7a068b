"""The plugins the KATalogus serves: the LOCAL repository (the plugins folder), found with
the same discovery code the workers use, shown as OpenKAT's plugin JSON."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import jsonschema
from referencing.exceptions import Unresolvable

from kat.catalogue import LOCAL, CatalogueError, NotFound
from kat.plugins import Plugin, discover

logger = logging.getLogger(__name__)


class UnknownPlugin(NotFound):
    """No plugin with this id in the plugins folder."""


class BrokenSchema(CatalogueError):
    """A plugin's ``schema.json`` that cannot be applied (HTTP 503, like a broken file)."""


class InvalidSettings(ValueError):
    """Settings that break a plugin's ``schema.json`` (HTTP 422)."""


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
            self._validators = {
                p.id: jsonschema.Draft202012Validator(p.schema)
                for p in plugins.values()
                if p.schema
            }

    def get(self, plugin_id: str) -> Plugin:
        plugin = self.plugins.get(plugin_id)
        if plugin is None:
            raise UnknownPlugin(f"plugin {plugin_id!r} does not exist")
        return plugin

    def all(self, repository: str | None = None) -> list[Plugin]:
        if repository not in (None, LOCAL):
            return []  # other repositories are recorded, never downloaded
        return sorted(self.plugins.values(), key=lambda p: p.id)

    def validate(self, plugin_id: str, settings: dict[str, Any], partial: bool = False) -> None:
        """Raise :class:`InvalidSettings` with the reason when ``settings`` break the schema.

        ``partial`` ignores missing required settings, so they can be set one at a time.
        """
        validator = self._validators.get(plugin_id)
        if validator is None:
            return
        try:
            errors = sorted(validator.iter_errors(settings), key=lambda e: e.path)
        except Unresolvable as exc:  # a $ref to nowhere: the plugin's fault, not the client's
            raise BrokenSchema(
                f"plugin {plugin_id!r}: its schema.json cannot be used: {exc}"[:500]
            ) from None
        for error in errors:
            if partial and error.validator == "required" and not error.path:
                continue
            where = "/".join(str(p) for p in error.absolute_path)
            where = f"setting {where}: " if where else ""
            raise InvalidSettings(
                f"settings of {plugin_id!r} break its schema: {where}{error.message}"[:500]
            )


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
