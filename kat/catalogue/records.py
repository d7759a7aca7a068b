"""Organisation and repository records: what their YAML files may hold, their normal form
in memory, and the layout written back (stable order, so an API change is a small diff)."""

from __future__ import annotations

import math
import re
from typing import Any

from kat.catalogue.yamlfiles import Invalid
from kat.ids import ID_PATTERN, ID_RE, is_id  # noqa: F401 (ID_RE: re-exported)

#: Setting keys become environment variables of a boefje.
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

#: Deepest nesting of lists and mappings a setting value may have.
MAX_DEPTH = 32

__all__ = [
    "ID_PATTERN",
    "ID_RE",
    "KEY_RE",
    "MAX_DEPTH",
    "org_file_data",
    "validate_org",
    "validate_repo",
    "value_problem",
]


def value_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` cannot be a setting (which the API serves as JSON), or None.

    YAML also reads dates, timestamps, binary, sets and ``.nan``; those are refused
    (quote them), as is nesting deeper than :data:`MAX_DEPTH`. Never names the value.
    """
    if depth > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH} levels"
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "not a finite number"
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "a mapping with a key that is not a string"
        items = list(value.values())
    else:
        return f"a YAML {type(value).__name__}, not a JSON value: quote it"
    for item in items:
        problem = value_problem(item, depth + 1)
        if problem:
            return problem
    return None


def _text(value: Any) -> str | None:
    """A YAML scalar people write unquoted (``id: 2024``) as the text they meant."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def validate_org(data: Any, org_id: str) -> dict[str, Any]:
    """The organisation in its normal form; :class:`Invalid` naming the offending key if not."""
    if not isinstance(data, dict):
        raise Invalid((), "the file must be a mapping with id, name and plugins")
    for key in data:
        if key not in ("id", "name", "plugins"):
            raise Invalid((key,), f"unknown key {key!r} (use id, name, plugins)")
    if _text(data.get("id")) != org_id:
        raise Invalid(("id",), f"id must be {org_id!r}, the file's name")
    name = _text(data.get("name", org_id))
    if name is None:
        raise Invalid(("name",), "name must be a string")
    plugins = data.get("plugins") or {}
    if not isinstance(plugins, dict):
        raise Invalid(("plugins",), "plugins must be a mapping of plugin id to state")
    normal: dict[str, Any] = {}
    for key, state in plugins.items():
        pid = _text(key)
        where = ("plugins", key)
        if not is_id(pid):
            raise Invalid(where, f"plugin id {pid!r} does not match {ID_PATTERN}")
        state = state or {}
        if not isinstance(state, dict) or set(state) - {"enabled", "settings"}:
            raise Invalid(where, "a plugin takes only enabled and settings")
        entry: dict[str, Any] = {}
        if "enabled" in state and state["enabled"] is not None:
            if not isinstance(state["enabled"], bool):
                raise Invalid((*where, "enabled"), "enabled must be true or false")
            entry["enabled"] = state["enabled"]
        settings = state.get("settings") or {}
        if not isinstance(settings, dict):
            raise Invalid((*where, "settings"), "settings must be a mapping")
        for key in settings:
            if not isinstance(key, str) or not KEY_RE.fullmatch(key):
                raise Invalid((*where, "settings", key), f"setting name {key!r} is not valid")
            problem = value_problem(settings[key])
            if problem:
                raise Invalid((*where, "settings", key), f"setting {key}: {problem}")
        entry["settings"] = dict(settings)
        normal[pid] = entry
    return {"id": org_id, "name": name, "plugins": normal}


def validate_repo(data: Any, repo_id: str) -> dict[str, Any]:
    """The repository in its normal form; :class:`Invalid` naming the offending key if not."""
    if not isinstance(data, dict):
        raise Invalid((), "the file must be a mapping with id, name and base_url")
    if _text(data.get("id")) != repo_id:
        raise Invalid(("id",), f"id must be {repo_id!r}, the file's name")
    for key in ("name", "base_url"):
        if not isinstance(data.get(key, ""), str):
            raise Invalid((key,), f"{key} must be a string")
    extra = set(data) - {"id", "name", "base_url"}
    if extra:
        raise Invalid((sorted(extra)[0],), "unknown key (use id, name, base_url)")
    return {"id": repo_id, "name": data.get("name", repo_id), "base_url": data.get("base_url", "")}


def org_file_data(org: dict[str, Any]) -> dict[str, Any]:
    """What an organisation's file holds: id, name, then plugins and settings in the order
    the file (or the API) gave them, empty entries left out. Keeping a person's order
    means an API write shows in ``git diff`` as the lines it changed, nothing more."""
    plugins = {}
    for pid, state in org["plugins"].items():
        entry: dict[str, Any] = {}
        if state.get("enabled") is not None:
            entry["enabled"] = state["enabled"]
        if state.get("settings"):
            entry["settings"] = dict(state["settings"])
        if entry:
            plugins[pid] = entry
    data: dict[str, Any] = {"id": org["id"], "name": org["name"]}
    if plugins:
        data["plugins"] = plugins
    return data
