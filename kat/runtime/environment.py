"""A boefje's environment, by OpenKAT's rules.

A plugin never sees the worker's variables. Its environment is built from scratch:
``BOEFJE_X`` of the worker becomes ``X`` where ``X`` is a property of the plugin's
``schema.json``, the organisation's settings from the KATalogus override those
defaults, and the result must satisfy the schema. Everything else is dropped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from kat.catalogue import settings
from kat.catalogue.plugins import Plugin
from kat.catalogue.settings import InvalidSettings

__all__ = ["InvalidSettings", "boefje_environment"]


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def _typed(value: str, spec: Mapping[str, Any]) -> Any:
    """The value as the schema's type wants it, so ``"5"`` passes ``{"type": "integer"}``.

    Environment values are strings; the schema describes what they mean. A value that
    does not convert stays a string and fails validation with a clear message.
    """
    types = spec.get("type")
    types = types if isinstance(types, list) else [types]
    for kind in types:
        try:
            if kind == "integer":
                return int(value)
            if kind == "number":
                return float(value)
            if kind == "boolean" and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            if kind in ("array", "object"):
                return json.loads(value)
        except (ValueError, TypeError):
            continue
    return value


def _encodable(value: str) -> bool:
    try:
        os.fsencode(value)  # what os.environ does with it in the child
    except UnicodeError:
        return False
    return True


def boefje_environment(
    plugin: Plugin, defaults: Mapping[str, str], org_settings: Mapping[str, Any]
) -> dict[str, str]:
    """The environment ``plugin`` runs with; raises :class:`InvalidSettings`.

    ``defaults`` are the worker's ``BOEFJE_*`` variables with the prefix stripped;
    ``org_settings`` the organisation's (decrypted) settings for this plugin.
    """
    schema = plugin.schema or {"type": "object", "properties": {}}
    properties: dict[str, Any] = schema.get("properties") or {}
    env = {k: _as_string(v) for k, v in defaults.items() if k in properties}
    env.update({k: _as_string(v) for k, v in org_settings.items() if k in properties})
    # What an environment cannot hold would kill the child while it sets up, before it
    # can report anything: refuse it here, naming the setting (never the value).
    unfit = []
    for k, v in env.items():
        if not k or "=" in k or "\0" in k:
            unfit.append(f"{k!r}: not a possible environment variable name")
        elif "\0" in v:
            unfit.append(f"{k}: contains a NUL character")
        elif not _encodable(v):
            unfit.append(f"{k}: is not valid text (a lone surrogate)")
    if unfit:
        raise InvalidSettings(f"settings of {plugin.id}: " + "; ".join(unfit))

    instance = {k: _typed(v, properties.get(k) or {}) for k, v in env.items()}
    try:
        settings.check(plugin.id, settings.validator(schema), instance)
    except settings.UnusableSchema as exc:
        raise InvalidSettings(f"settings of {plugin.id}: {exc}") from None
    return env
