"""Organisation and repository records: what their YAML files may hold (a JSON Schema
each, checked with jsonschema, with words a person can act on), their normal form in
memory, and the layout written back (the file's own order, so an API change is a small
diff)."""

from __future__ import annotations

import math
import re
from typing import Any

import jsonschema

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
    "ORG_SCHEMA",
    "REPO_SCHEMA",
    "normal_form",
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


#: A scalar people may write unquoted where text is meant (``name: 2024``).
_TEXT = {"type": ["string", "integer", "number"], "not": {"type": "boolean"}}

#: The state of one plugin in an organisation's file.
PLUGIN_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "x-message": "a plugin takes only enabled and settings",
    "additionalProperties": False,
    "x-unknown": "a plugin takes only enabled and settings",
    "properties": {
        "enabled": {"type": ["boolean", "null"], "x-message": "enabled must be true or false"},
        "settings": {
            "type": ["object", "null"],
            "x-message": "settings must be a mapping",
            "propertyNames": {
                "type": "string",
                "pattern": KEY_RE.pattern,
                "x-message": "setting name {instance!r} is not valid",
            },
        },
    },
}

#: What an organisation's file may hold. ``x-message`` is what a person reads, with the
#: file's path and the line of the offending key; values are never quoted in it. (The
#: plugin schema is inlined, not a ``$ref``: resolving one per plugin doubled the time
#: to load a large catalogue.)
ORG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "x-message": "the file must be a mapping with id, name and plugins",
    "required": ["id"],
    "additionalProperties": False,
    "x-unknown": "unknown key {key!r} (use id, name, plugins)",
    "properties": {
        "id": {**_TEXT, "x-message": "id must be {expected!r}, the file's name"},
        "name": {**_TEXT, "x-message": "name must be a string"},
        "plugins": {
            "type": ["object", "null"],
            "x-message": "plugins must be a mapping of plugin id to state",
            "propertyNames": {
                "type": "string",
                "pattern": r"^(?!.*\.\.)" + ID_PATTERN[1:],
                "x-message": "plugin id {instance!r} does not match "
                + ID_PATTERN.replace("{", "{{").replace("}", "}}"),
            },
            "additionalProperties": PLUGIN_SCHEMA,
        },
    },
}

#: What a repository's file may hold.
REPO_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "x-message": "the file must be a mapping with id, name and base_url",
    "required": ["id"],
    "additionalProperties": False,
    "x-unknown": "unknown key {key!r} (use id, name, base_url)",
    "properties": {
        "id": {**_TEXT, "x-message": "id must be {expected!r}, the file's name"},
        "name": {"type": "string", "x-message": "name must be a string"},
        "base_url": {"type": "string", "x-message": "base_url must be a string"},
    },
}

_ORG_CHECK = jsonschema.Draft202012Validator(ORG_SCHEMA)
_REPO_CHECK = jsonschema.Draft202012Validator(REPO_SCHEMA)


def _check(validator: jsonschema.protocols.Validator, data: Any, expected: str) -> None:
    """:class:`Invalid` for the first problem of ``data`` in file order, with the keys
    that lead to it (for the line number) and the schema's words for it."""
    if isinstance(data, dict) and _text(data.get("id")) not in (None, expected):
        raise Invalid(("id",), f"id must be {expected!r}, the file's name")
    errors = list(validator.iter_errors(data))
    if not errors:
        return
    error = min(errors, key=lambda e: (len(e.absolute_path), _order(data, e.absolute_path)))
    keys = tuple(error.absolute_path)
    words = error.schema.get("x-message", error.message)
    if error.validator == "additionalProperties":
        extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
        keys, words = (*keys, extra[0]), error.schema["x-unknown"].format(key=extra[0])
    elif error.validator == "required":
        words = f"id must be {expected!r}, the file's name"
    elif "propertyNames" in error.absolute_schema_path:
        # The error sits on the mapping; its instance is the offending name.
        keys = (*keys, error.instance)
    raise Invalid(keys, words.format(instance=error.instance, expected=expected))


def _order(data: Any, path) -> list[int]:
    """Where ``path`` is in the file: the index of each key in its mapping."""
    out, node = [], data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            break
        out.append(list(node).index(key))
        node = node[key]
    return out


def validate_org(data: Any, org_id: str) -> dict[str, Any]:
    """The organisation in its normal form; :class:`Invalid` naming the offending key if not
    (the shape by :data:`ORG_SCHEMA`, then each setting value by :func:`value_problem`)."""
    if isinstance(data, dict) and isinstance(data.get("plugins"), dict):
        # `2024:` is the plugin id "2024", as people mean it
        data = {**data, "plugins": {_text(k) or k: v for k, v in data["plugins"].items()}}
    _check(_ORG_CHECK, data, org_id)
    normal: dict[str, Any] = {}
    for pid, state in (data.get("plugins") or {}).items():
        state = state or {}
        entry: dict[str, Any] = {}
        if state.get("enabled") is not None:
            entry["enabled"] = state["enabled"]
        settings = state.get("settings") or {}
        for key, value in settings.items():
            problem = value_problem(value)
            if problem:
                raise Invalid(("plugins", pid, "settings", key), f"setting {key}: {problem}")
        entry["settings"] = dict(settings)
        normal[pid] = entry
    return {"id": org_id, "name": _text(data.get("name", org_id)), "plugins": normal}


def validate_repo(data: Any, repo_id: str) -> dict[str, Any]:
    """The repository in its normal form; :class:`Invalid` naming the offending key if not."""
    _check(_REPO_CHECK, data, repo_id)
    return {"id": repo_id, "name": data.get("name", repo_id), "base_url": data.get("base_url", "")}


def normal_form(file_data: dict[str, Any]) -> dict[str, Any]:
    """The in-memory form of what :func:`org_file_data` gave (already valid: not checked)."""
    plugins = {}
    for pid, state in (file_data.get("plugins") or {}).items():
        entry = {"enabled": state["enabled"]} if "enabled" in state else {}
        entry["settings"] = dict(state.get("settings") or {})
        plugins[pid] = entry
    return {"id": file_data["id"], "name": file_data["name"], "plugins": plugins}


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
