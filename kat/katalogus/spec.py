"""The OpenAPI document the API is built from: request bodies are validated against its
schemas, and ``/docs`` renders it as a plain HTML page (no external assets)."""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

#: The spec, shipped as package data.
SPEC_PATH = Path(__file__).with_name("openapi.yaml")

_METHODS = ("get", "post", "put", "patch", "delete")


@cache
def text() -> str:
    return SPEC_PATH.read_text(encoding="utf-8")


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(text())


@cache
def body_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """A validator for each ``(path template, METHOD)`` with a JSON request body."""
    spec = document()
    registry = Registry().with_resource(
        "urn:kat:openapi", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    validators = {}
    for template, item in spec["paths"].items():
        for method in _METHODS:
            body = (item.get(method) or {}).get("requestBody")
            if not body or "application/json" not in body["content"]:
                continue
            schema = body["content"]["application/json"]["schema"]
            if "$ref" in schema:
                schema = {"$ref": "urn:kat:openapi" + schema["$ref"]}
            validators[(template, method.upper())] = jsonschema.Draft202012Validator(
                schema, registry=registry
            )
    return validators


def body_error(template: str, method: str, body: Any) -> str | None:
    """Why ``body`` does not fit the spec for this route, or None when it does."""
    validator = body_validators().get((template, method))
    if validator is None:
        return None
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"request body{' at ' + where if where else ''}: {error.message[:300]}"


@cache
def docs_page() -> str:
    """The spec as one readable HTML page."""
    spec = document()
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(spec['info']['title'])} API</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "code,pre{background:#f4f4f4}h3{margin-bottom:.2em}.m{font-weight:bold;"
        "display:inline-block;width:5em}pre{padding:.5em;overflow:auto}</style></head><body>",
        f"<h1>{html.escape(spec['info']['title'])} {html.escape(spec['info']['version'])}</h1>",
        f"<pre>{html.escape(spec['info'].get('description', ''))}</pre>",
        "<p>Machine-readable: <a href='/openapi.yaml'>/openapi.yaml</a></p>",
    ]
    for template, item in spec["paths"].items():
        for method in _METHODS:
            op = item.get(method)
            if not op:
                continue
            out.append(
                f"<h3><span class='m'>{method.upper()}</span><code>{html.escape(template)}"
                f"</code></h3><p>{html.escape(op.get('summary', ''))}</p>"
            )
            if op.get("description"):
                out.append(f"<p>{html.escape(op['description'])}</p>")
            params = [p for p in op.get("parameters", []) if "name" in p]
            if params:
                names = ", ".join(f"<code>{html.escape(p['name'])}</code>" for p in params)
                out.append(f"<p>Query: {names}</p>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                out.append(f"<p>Body: <code>{html.escape(json.dumps(body['schema']))}</code></p>")
            codes = ", ".join(
                f"{code} {html.escape(_describe(spec, r))}" for code, r in op["responses"].items()
            )
            out.append(f"<p>Responses: {codes}</p>")
    schemas = yaml.safe_dump(spec["components"]["schemas"], sort_keys=False)
    out.append(f"<h2>Schemas</h2><pre>{html.escape(schemas)}</pre></body></html>")
    return "\n".join(out)


def _describe(spec: dict[str, Any], response: dict[str, Any]) -> str:
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response.get("description", "")
