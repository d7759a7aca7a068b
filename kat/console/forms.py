"""A plugin's settings form, made from its ``schema.json``.

Each property becomes a field with its type, default, pattern and description, and
where its current value comes from: the organisation's file, a ``BOEFJE_`` default of
the workers, or the schema's default. Secret fields (a name with KEY, TOKEN, SECRET or
PASSWORD, or ``"format": "password"`` / ``"writeOnly": true``) are never sent to the
browser: an empty secret field keeps the stored value. Errors are per field, and name
the rule, never the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

SECRET_RE = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


@dataclass
class Field:
    name: str
    kind: str  # string | integer | number | boolean | enum
    description: str = ""
    default: Any = None
    pattern: str | None = None
    choices: list[Any] = field(default_factory=list)
    required: bool = False
    secret: bool = False
    value: Any = None  # what the form shows (never a secret)
    is_set: bool = False
    source: str = ""  # organisation | BOEFJE_X | schema default | ""
    error: str = ""
    minimum: Any = None
    maximum: Any = None
    long: bool = False  # a text that may span lines (maxLength over 2000): a textarea


def _kind(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "enum"
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return kind if kind in ("string", "integer", "number", "boolean") else "string"


def is_secret(name: str, prop: dict[str, Any]) -> bool:
    return bool(SECRET_RE.search(name) or prop.get("format") == "password" or prop.get("writeOnly"))


def fields(
    schema: dict[str, Any] | None, current: dict[str, Any], defaults: dict[str, str]
) -> list[Field]:
    """The form's fields; ``defaults`` are the ``BOEFJE_`` variables, prefix stripped."""
    if not schema:
        return []
    required = set(schema.get("required", []))
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        f = Field(
            name=name,
            kind=_kind(prop),
            description=str(prop.get("description") or prop.get("title") or ""),
            default=prop.get("default"),
            pattern=prop.get("pattern"),
            choices=list(prop.get("enum", [])),
            required=name in required,
            secret=is_secret(name, prop),
            minimum=prop.get("minimum"),
            maximum=prop.get("maximum"),
            long=_kind(prop) == "string" and int(prop.get("maxLength") or 0) > 2000,
        )
        if name in current:
            f.is_set, f.source, shown = True, "organisation", current[name]
        elif name in defaults:
            f.source, shown = f"BOEFJE_{name}", defaults[name]
        elif f.default is not None:
            f.source, shown = "schema default", None
        else:
            shown = None
        f.value = None if f.secret else shown
        out.append(f)
    return out


def _convert(f: Field, text: str) -> Any:
    if f.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if f.kind == "number":
        try:
            return float(text)
        except ValueError:
            raise ValueError("must be a number") from None
    if f.kind == "boolean":
        return text in ("true", "on", "1")
    if f.kind == "enum":
        for choice in f.choices:
            if str(choice) == text:
                return choice
        raise ValueError("is not one of the choices")
    return text


def parse(
    schema: dict[str, Any], form: dict[str, Any], current: dict[str, Any]
) -> tuple[dict[str, Any], list[Field]]:
    """The new settings from a posted form, and the fields (with ``error`` set where a
    value breaks the schema). Settings the schema does not name are kept as they are."""
    the_fields = fields(schema, current, {})
    known = {f.name for f in the_fields}
    new = {k: v for k, v in current.items() if k not in known}
    for f in the_fields:
        text = str(form.get(f"s_{f.name}", "")).strip()
        if f.long:
            text = text.replace("\r\n", "\n")
        if f.secret and not text:
            if f.name in current and not form.get(f"clear_{f.name}"):
                new[f.name] = current[f.name]  # an empty secret field keeps the value
            continue
        if not text and f.kind != "boolean":
            continue  # empty: not set (the worker falls back to BOEFJE_ or the default)
        if f.kind == "boolean" and f"s_{f.name}" not in form and f.name not in current:
            continue
        try:
            new[f.name] = _convert(f, text)
        except ValueError as exc:
            f.error = str(exc)
        if not f.secret:
            f.value = text
    validator = jsonschema.Draft202012Validator(schema)
    by_name = {f.name: f for f in the_fields}
    for error in validator.iter_errors(new):
        if error.validator == "required" and not error.absolute_path:
            continue  # may come from a BOEFJE_ default; enabling checks the full set
        name = str(error.absolute_path[0]) if error.absolute_path else None
        target = by_name.get(name)
        message = f"does not satisfy {error.validator!r}"
        if error.validator in ("pattern", "type", "enum", "minimum", "maximum", "maxLength",
                               "minLength"):  # fmt: skip
            message += f" {error.validator_value!r}"
        if target is not None and not target.error:
            target.error = message
    return new, the_fields
