"""`kat keys generate`, `kat seal VALUE`, `kat catalogue check`, `kat catalogue reseal`:
the key and file chores of a catalogue kept in git."""

from __future__ import annotations

import argparse
import json
import os
import sys

import jsonschema
from referencing.exceptions import Unresolvable

from kat import config
from kat.catalogue import Catalogue, CatalogueError, org_text
from kat.catalogue.plugins import discover
from kat.catalogue.records import value_problem
from kat.catalogue.sealing import PRIVATE_VAR, PUBLIC_VAR, Sealer, SealError, generate, is_sealed
from kat.catalogue.yamlfiles import FileProblem
from kat.cli import FAILED, OK, UsageError, command
from kat.commands.reading import STDIN_LIMIT, read_text


@command
def add_keys(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="key pairs that seal catalogue settings")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    gen = keys_sub.add_parser(
        "generate", help="print a new key pair as environment lines (for .env)"
    )
    gen.set_defaults(handler=run_generate)


@command
def add_seal(sub: argparse._SubParsersAction) -> None:
    seal = sub.add_parser(
        "seal",
        help="seal a value for a hand edit of a catalogue file (needs only the public key)",
        description=f"Print VALUE sealed to {PUBLIC_VAR}, to paste into a catalogue file. "
        "Use - to read the value from standard input (keeps it out of shell history).",
    )
    seal.add_argument("value", help="the plaintext, or - for standard input")
    seal.add_argument("--json", action="store_true", help="VALUE is JSON (a number, true, …)")
    seal.set_defaults(json_is_input=True)  # here --json is about VALUE, not the output
    seal.set_defaults(handler=run_seal)


@command
def add_catalogue(sub: argparse._SubParsersAction) -> None:
    cat = sub.add_parser("catalogue", help="check or re-seal the YAML catalogue")
    cat_sub = cat.add_subparsers(dest="catalogue_command", metavar="COMMAND", required=True)
    check = cat_sub.add_parser(
        "check",
        help="validate every catalogue file; warn about plaintext values when sealing is on",
    )
    check.set_defaults(handler=run_check)
    reseal = cat_sub.add_parser(
        "reseal",
        help="move every setting to a new key pair (key rotation)",
        description=f"Open every value with {PRIVATE_VAR} (and any --old-private-key), seal "
        "it to the new public key, check it opens with the new private key, then rewrite "
        "the files under the catalogue lock. Nothing is written unless every value opens.",
    )
    reseal.add_argument("--new-public-key", default=os.environ.get("KATALOGUS_NEW_PUBLIC_KEY"))
    reseal.add_argument("--new-private-key", default=os.environ.get("KATALOGUS_NEW_PRIVATE_KEY"))
    reseal.add_argument(
        "--old-private-key", action="append", default=[], help="another key that may open values"
    )
    reseal.set_defaults(handler=run_reseal)


def run_generate(args: argparse.Namespace) -> int:
    public, private = generate()
    print("BYTES_ENCRYPTION_MIDDLEWARE=NACL_SEALBOX")
    print(f"{PUBLIC_VAR}={public}")
    print(f"{PRIVATE_VAR}={private}")
    return OK


def run_seal(args: argparse.Namespace) -> int:
    public = config.load().public_key
    if not public:
        raise UsageError(f"{PUBLIC_VAR} is not set: `kat keys generate` makes a key pair")
    text = read_text("-", STDIN_LIMIT, "value").rstrip("\n") if args.value == "-" else args.value
    try:
        value = json.loads(text) if args.json else text
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"--json: VALUE is not JSON: {exc}") from None
    problem = value_problem(value)
    if problem:  # what the API could not serve once opened
        raise UsageError(f"--json: VALUE is {problem}")
    try:
        print(Sealer(public).seal(value))
    except SealError as exc:
        raise UsageError(str(exc)) from None
    return OK


def run_check(args: argparse.Namespace) -> int:
    """Every file parses and validates, every sealed value opens (when the private key is
    set), settings fit the plugins' schemas; plaintext values are warned about."""
    settings = config.load()
    try:
        cat = Catalogue.from_settings(settings)
    except CatalogueError as exc:
        raise UsageError(str(exc)) from None
    plugins, skipped = discover(settings.plugins_dir)
    # Broken plugin folders are `kat plugins`' to fail on; here they explain a warning.
    errors, warnings, unopened = [], [f"plugin skipped: {problem}" for problem in skipped], 0
    for kind in (cat.orgs, cat.repos):
        for name in sorted(os.listdir(kind.folder)) if kind.folder.is_dir() else []:
            if not name.endswith(".yaml") or name.startswith("."):
                continue
            try:
                kind.parse_file(name[:-5])
            except FileProblem as exc:
                errors.append(str(exc))
            except CatalogueError as exc:  # a file name that is not a valid id
                errors.append(f"{kind.folder / name}: {exc}")
    for org_id in cat.organisations():
        path = cat.orgs.path(org_id)
        for plugin_id, state in cat.orgs.get(org_id)["plugins"].items():
            stored = state.get("settings", {})
            if settings.encryption:
                for key, value in stored.items():
                    if not is_sealed(value):
                        warnings.append(f"{path}: {plugin_id} {key} is plaintext (not sealed)")
            if not settings.private_key and any(is_sealed(v) for v in stored.values()):
                unopened += 1  # a machine with only the public key can still check the rest
                continue
            try:
                values = cat.settings(org_id, plugin_id)
            except CatalogueError as exc:
                errors.append(f"{path}: {plugin_id}: {exc}")
                continue
            plugin = plugins.get(plugin_id)
            if plugin is None:
                warnings.append(f"{path}: plugin {plugin_id!r} is not in {settings.plugins_dir}")
            elif plugin.schema:
                try:
                    found = list(jsonschema.Draft202012Validator(plugin.schema).iter_errors(values))
                except Unresolvable as exc:
                    errors.append(f"{path}: {plugin_id}: its schema.json cannot be used: {exc}")
                    continue
                for error in found:
                    if error.validator != "required":  # required ones may come later
                        # The rule, never the value: it may be a secret.
                        where = "/".join(map(str, error.absolute_path)) or "settings"
                        errors.append(
                            f"{path}: {plugin_id}: {where} breaks the schema's "
                            f"{error.validator!r} rule"
                        )
    for line in warnings:
        print(f"warning: {line}")
    for line in errors:
        print(f"error: {line}")
    if unopened:
        print(f"note: {PRIVATE_VAR} is not set: {unopened} plugins' sealed settings not checked")
    count = len(cat.orgs.ids()) + len(cat.repos.ids())
    print(f"{count} files checked: {len(errors)} errors, {len(warnings)} warnings")
    return FAILED if errors else OK


def run_reseal(args: argparse.Namespace) -> int:
    settings = config.load()
    for option in ("new_public_key", "new_private_key"):
        if not getattr(args, option):
            flag, variable = "--" + option.replace("_", "-"), f"KATALOGUS_{option.upper()}"
            raise UsageError(f"{flag} (or {variable}) is required")
    olds = [k for k in [settings.private_key, *args.old_private_key] if k]
    try:
        opener = Sealer(None, olds)
        new = Sealer(
            args.new_public_key,
            [args.new_private_key],
            private_var="--new-private-key",
            public_var="--new-public-key",
        )
    except SealError as exc:
        raise UsageError(str(exc)) from None
    cat = Catalogue(settings.catalogue_dir, opener)
    with cat.locked():
        plans = []
        for org_id in cat.orgs.ids():
            try:
                path, org, _stat = cat.orgs.load_fresh(org_id)
            except CatalogueError as exc:
                print(f"kat: error: {exc}", file=sys.stderr)
                print("kat: nothing was changed", file=sys.stderr)
                return FAILED
            moved = 0
            for plugin_id, state in org["plugins"].items():
                for key, stored in state.get("settings", {}).items():
                    try:
                        value = opener.reveal(stored)
                        sealed = new.seal(value)
                        if new.open(sealed) != value:
                            raise SealError("the new key pair does not round-trip")
                    except SealError as exc:
                        print(f"kat: error: {path}: {plugin_id} {key}: {exc}", file=sys.stderr)
                        print("kat: nothing was changed", file=sys.stderr)
                        return FAILED
                    state["settings"][key] = sealed
                    moved += 1
            if moved:  # a file without settings keeps its text (and its comments)
                plans.append((org_id, path, org_text(org), moved))
        for org_id, path, text, _moved in plans:
            cat.orgs.store(org_id, path, text)
    total = sum(p[3] for p in plans)
    print(f"resealed {total} values in {len(plans)} files to key {new.key_id}")
    print(f"now set {PUBLIC_VAR} and {PRIVATE_VAR} to the new key pair")
    return OK
