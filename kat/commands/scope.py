"""`kat scope add|rm|list --org ORG [REF] [--level N]`: the declared scope of an
organisation, in ``catalogue/scopes/<org>.yaml`` or through ``KATALOGUS_API``."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

from kat import config
from kat.catalogue import Catalogue, CatalogueError
from kat.catalogue.errors import NotFound
from kat.cli import FAILED, OK, UsageError, command
from kat.scheduling.scope import MAX_LEVEL, Scopes


@command
def add(sub: argparse._SubParsersAction) -> None:
    scope = sub.add_parser(
        "scope",
        help="declare objects in scope with a scan level (catalogue/scopes/ORG.yaml)",
        description="Declare the objects an organisation scans, each with a scan level "
        "0-4. Works on the catalogue files, or on the KATalogus when KATALOGUS_API is set.",
    )
    scope_sub = scope.add_subparsers(dest="scope_command", metavar="COMMAND", required=True)
    for name, help_text in (
        ("add", "declare REF at --level N (or change its level)"),
        ("rm", "take REF out of the scope"),
        ("list", "show the declared objects and plugin schedules"),
    ):
        p = scope_sub.add_parser(name, help=help_text)
        p.add_argument("--org", required=True, help="organisation id")
        if name != "list":
            p.add_argument(
                "ref", metavar="REF", help="object reference, e.g. Hostname|internet|example.com"
            )
        if name == "add":
            p.add_argument("--level", type=int, required=True, choices=range(MAX_LEVEL + 1))
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(handler=run, scope_command=name)


def _api(settings: config.Settings, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(settings.katalogus_api + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if settings.katalogus_api_token:
        request.add_header("Authorization", f"Bearer {settings.katalogus_api_token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read() or b"{}").get("detail", "")
        except (ValueError, AttributeError):
            detail = ""
        if exc.code == 404:
            raise NotFound(detail or f"{path}: not found") from None
        if exc.code == 400:
            raise UsageError(detail) from None
        raise CatalogueError(f"KATALOGUS_API: HTTP {exc.code} {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise CatalogueError(
            f"KATALOGUS_API {settings.katalogus_api} is unreachable: {exc}"
        ) from None


def _files(settings: config.Settings, args: argparse.Namespace) -> dict:
    catalogue = Catalogue(settings.catalogue_dir)
    catalogue.organisation(args.org)  # UnknownOrganisation (NotFound) if missing
    scopes = Scopes(settings.catalogue_dir)
    if args.scope_command == "add":
        return scopes.set(args.org, args.ref, args.level).to_json()
    if args.scope_command == "rm":
        return scopes.remove(args.org, args.ref).to_json()
    return scopes.get(args.org).to_json()


def _remote(settings: config.Settings, args: argparse.Namespace) -> dict:
    base = f"/v1/organisations/{quote(args.org, safe='')}/scope"
    if args.scope_command == "add":
        return _api(
            settings, "POST", f"{base}/objects", {"reference": args.ref, "level": args.level}
        )
    if args.scope_command == "rm":
        _api(settings, "DELETE", f"{base}/objects?{urlencode({'reference': args.ref})}")
    return _api(settings, "GET", base)


def run(args: argparse.Namespace) -> int:
    settings = config.load()
    try:
        scope = _remote(settings, args) if settings.katalogus_api else _files(settings, args)
    except NotFound as exc:
        print(f"kat: error: {exc}", file=sys.stderr)
        return FAILED
    except CatalogueError as exc:
        if isinstance(exc, ValueError):  # an invalid id, reference or level
            raise UsageError(str(exc)) from None
        print(f"kat: error: {exc}", file=sys.stderr)
        return FAILED
    if args.json:
        print(json.dumps(scope, indent=2))
        return OK
    for reference, level in scope["objects"].items():
        print(f"L{level}  {reference}")
    for plugin_id, entry in scope["plugins"].items():
        print(f"plugin {plugin_id}: " + ", ".join(f"{k} {v}" for k, v in entry.items()))
    return OK
