"""The one check of a plugin's settings against its ``schema.json``.

The KATalogus runs it before it stores a setting (HTTP 422) and the worker runs it on
the environment it builds for a boefje (``invalid-settings``). Both say the same thing
in the same words: which setting breaks which rule, never the value, which may be a
secret.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from referencing.exceptions import Unresolvable

#: The longest message an :class:`InvalidSettings` carries.
MAX_MESSAGE = 500


class InvalidSettings(ValueError):
    """Settings break the plugin's schema; the message names the setting, not its value."""


class UnusableSchema(ValueError):
    """The plugin's ``schema.json`` cannot be applied (a ``$ref`` to nowhere)."""


def validator(schema: dict[str, Any] | None) -> jsonschema.protocols.Validator | None:
    """A reusable validator for ``schema`` (None: the plugin takes no settings)."""
    return jsonschema.Draft202012Validator(schema) if schema else None


def problems(
    check: jsonschema.protocols.Validator | None, settings: dict[str, Any], partial: bool = False
) -> list[str]:
    """What is wrong with ``settings``, one line per problem, values never named.

    ``partial`` ignores missing required settings, so they can be set one at a time.
    A text value holding a NUL character is refused whatever the schema: a boefje gets
    its settings as environment variables, which cannot hold one.
    """
    found = [
        f"{key}: contains a NUL character"
        for key, value in settings.items()
        if isinstance(value, str) and "\0" in value
    ]
    if check is None:
        return found
    try:
        errors = sorted(check.iter_errors(settings), key=lambda e: list(e.absolute_path))
    except Unresolvable as exc:
        raise UnusableSchema(f"its schema.json cannot be used: {exc}"[:MAX_MESSAGE]) from None
    for error in errors:
        if error.validator == "required" and not error.absolute_path:
            if partial:
                continue
            found.append(error.message.replace(" is a required property", " is required"))
            continue
        where = "/".join(str(p) for p in error.absolute_path) or "(settings)"
        rule = error.validator_value if error.validator in _SHOWN else None
        shown = f" {rule!r}" if rule is not None else ""
        found.append(f"{where}: does not satisfy {error.validator!r}{shown}")
    return found


#: Rules whose schema value helps a person fix the setting (and holds no secret).
_SHOWN = frozenset(
    {"type", "enum", "const", "pattern", "minimum", "maximum", "exclusiveMinimum",
     "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "format"}
)  # fmt: skip


def check(
    plugin_id: str,
    check: jsonschema.protocols.Validator | None,
    settings: dict[str, Any],
    partial: bool = False,
) -> None:
    """Raise :class:`InvalidSettings` naming every problem of ``settings``."""
    found = problems(check, settings, partial)
    if found:
        raise InvalidSettings(f"settings of {plugin_id}: " + "; ".join(found)[:MAX_MESSAGE])
