"""Plugin discovery: boefjes and normalizers in OpenKAT's folder layout.

A plugin module is a folder under the plugins directory. Any folder inside it (the
module folder itself included) that holds ``boefje.json`` + ``main.py`` is a boefje;
one that holds ``normalizer.json`` + ``normalize.py`` is a normalizer. Discovery never
imports plugin code: ``run``'s signature is checked from the syntax tree, so neither
the KATalogus nor a worker process executes a line of a plugin.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jsonschema
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from kat.ids import ID_PATTERN

logger = logging.getLogger(__name__)

_COMMON = {
    "id": {"type": "string", "pattern": ID_PATTERN, "not": {"pattern": r"\.\."}},
    "name": {"type": "string"},
    "description": {"type": "string"},
    "version": {"type": ["string", "null"]},
    "enabled": {"type": "boolean"},
    "consumes": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "produces": {"type": "array", "items": {"type": "string", "minLength": 1}},
}

BOEFJE_MANIFEST_SCHEMA = {
    "type": "object",
    "required": ["id", "consumes"],
    "properties": {
        **_COMMON,
        "scan_level": {"type": "integer", "minimum": 0, "maximum": 4},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "memory_limit": {"type": "integer", "minimum": 16},
        # Programs the boefje runs, looked up on the worker's PATH before each job.
        "requires": {
            "type": "array",
            "items": {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$"},
        },
        # Debian package per required program, for the missing-dependency message.
        "packages": {
            "type": "object",
            "additionalProperties": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9.+-]*$"},
        },
    },
}

NORMALIZER_MANIFEST_SCHEMA = {
    "type": "object",
    "required": ["id", "consumes"],
    "properties": _COMMON,
}

#: Where a boefje's programs look for the tools they call (bash, openssl, ...).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PluginType = Literal["boefje", "normalizer"]

_KINDS: dict[str, tuple[str, str, int, dict]] = {
    # kind: (manifest, code file, parameters of run(), manifest schema)
    "boefje": ("boefje.json", "main.py", 1, BOEFJE_MANIFEST_SCHEMA),
    "normalizer": ("normalizer.json", "normalize.py", 2, NORMALIZER_MANIFEST_SCHEMA),
}

#: Each kind's manifest validator, built once: ``jsonschema.validate`` would check the
#: (fixed) manifest schema against its meta-schema again for every plugin loaded.
_MANIFEST_VALIDATORS = {
    kind: jsonschema.validators.validator_for(schema)(schema)
    for kind, (_name, _code, _parameters, schema) in _KINDS.items()
}


class PluginError(ValueError):
    """A plugin folder cannot be loaded; the message names the file and the reason."""


@dataclass(frozen=True)
class Plugin:
    """One boefje or normalizer, as its folder describes it."""

    id: str
    type: PluginType
    path: Path  #: the folder holding the manifest
    code: Path  #: main.py or normalize.py
    module: Path  #: the top-level module folder under the plugins directory
    name: str
    description: str
    consumes: tuple[str, ...]
    produces: tuple[str, ...]
    runnable_hash: str
    version: str | None = None
    scan_level: int = 1
    enabled: bool = False  #: default state when an organisation says nothing
    timeout: float | None = None  #: seconds; None: KAT_JOB_TIMEOUT
    memory_limit: int | None = None  #: MiB; None: KAT_JOB_MEMORY
    schema: dict[str, Any] | None = None
    repository: str = "LOCAL"
    #: Programs the boefje runs (``requires`` in ``boefje.json``), looked up on PATH.
    requires: tuple[str, ...] = ()
    #: Debian package of each required program (``packages`` in ``boefje.json``).
    packages: dict[str, str] = field(default_factory=dict, compare=False)
    manifest: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def asset(self, name: str) -> Path | None:
        """``schema.json``, ``description.md`` or ``cover.jpg``: in the plugin's folder,
        else in its module folder."""
        for folder in (self.path, *self.path.parents):
            candidate = folder / name
            if candidate.is_file():
                return candidate
            if folder == self.module:
                break
        return None

    def matches_raw(self, mime_types: set[str] | list[str]) -> bool:
        """A normalizer runs on a raw whose mime types meet its ``consumes``."""
        return self.type == "normalizer" and bool(
            set(mime_types) & (set(self.consumes) | {f"normalizer/{self.id}"})
        )


def missing_programs(plugin: Plugin, path: str | None = None) -> list[str]:
    """The programs ``plugin`` requires that are not on ``path`` (default: ``$PATH``)."""
    return [name for name in plugin.requires if shutil.which(name, path=path) is None]


def install_hint(plugin: Plugin, program: str) -> str:
    """How to install ``program`` on Debian, for the missing-dependency message."""
    return f"apt-get install {plugin.packages.get(program, program)}"


def program_path(plugin: Plugin, path: str | None = None) -> str:
    """``PATH`` for a boefje that runs programs: the folders its required programs were
    found in, then the system's, so the child runs what the worker checked for."""
    folders = [
        str(Path(found).parent)
        for name in plugin.requires
        if (found := shutil.which(name, path=path))
    ]
    folders += SYSTEM_PATH.split(os.pathsep)
    return os.pathsep.join(dict.fromkeys(folders))


def runnable_hash(folder: Path) -> str:
    """sha256 over every file below ``folder`` (paths and contents), ``*.pyc`` excluded."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".pyc" or "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _check_run_signature(code: Path, parameters: int) -> None:
    try:
        tree = ast.parse(code.read_bytes(), filename=str(code))
    except SyntaxError as exc:
        raise PluginError(f"{code}:{exc.lineno}: syntax error: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "run":
            args = node.args
            count = len(args.posonlyargs) + len(args.args)
            if count != parameters or args.vararg or args.kwonlyargs:
                raise PluginError(
                    f"{code}:{node.lineno}: run() must take exactly {parameters} "
                    f"positional parameter{'s' if parameters > 1 else ''}, it takes {count}"
                )
            return
    raise PluginError(f"{code}: no top-level run() function")


def _refs(node: Any) -> list[str]:
    """Every ``$ref`` string in a JSON document."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _check_refs(schema: dict[str, Any], path: Path) -> None:
    """A ``$ref`` that leads nowhere (or off to the network) would break every later
    validation of the plugin's settings: refuse the schema now, naming the reference."""
    resolver = Registry().resolver_with_root(DRAFT202012.create_resource(schema))
    for ref in _refs(schema):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            raise PluginError(f"{path}: $ref {ref!r} does not resolve in this schema") from None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PluginError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None


def load_plugin(folder: Path, kind: PluginType, module_root: Path | None = None) -> Plugin:
    """Load the boefje or normalizer in ``folder``; raise :class:`PluginError` if broken."""
    manifest_name, code_name, parameters, _schema = _KINDS[kind]
    manifest_path, code = folder / manifest_name, folder / code_name
    manifest = _load_json(manifest_path)
    # the error jsonschema.validate would raise: the most relevant one
    exc = jsonschema.exceptions.best_match(_MANIFEST_VALIDATORS[kind].iter_errors(manifest))
    if exc is not None:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise PluginError(f"{manifest_path}: {where}: {exc.message}")
    if not code.is_file():
        raise PluginError(f"{code}: missing")
    _check_run_signature(code, parameters)

    settings_schema = None
    schema_path = folder / "schema.json"
    if kind == "boefje" and schema_path.is_file():
        settings_schema = _load_json(schema_path)
        try:
            jsonschema.Draft202012Validator.check_schema(settings_schema)
        except jsonschema.SchemaError as exc:
            raise PluginError(f"{schema_path}: not a valid JSON Schema: {exc.message}") from None
        if settings_schema.get("type", "object") != "object":
            raise PluginError(f'{schema_path}: the settings schema must have "type": "object"')
        _check_refs(settings_schema, schema_path)

    produces = manifest.get("produces")
    if kind == "boefje" and not produces:
        produces = [f"boefje/{manifest['id']}"]
    return Plugin(
        id=manifest["id"],
        type=kind,
        path=folder,
        code=code,
        module=module_root or folder,
        name=manifest.get("name") or manifest["id"],
        description=manifest.get("description", ""),
        consumes=tuple(manifest["consumes"]),
        produces=tuple(produces or ()),
        runnable_hash=runnable_hash(folder),
        version=manifest.get("version"),
        scan_level=manifest.get("scan_level", 1),
        # OpenKAT: boefjes are disabled until enabled, normalizers enabled.
        enabled=manifest.get("enabled", kind == "normalizer"),
        timeout=manifest.get("timeout"),
        memory_limit=manifest.get("memory_limit"),
        schema=settings_schema,
        requires=tuple(manifest.get("requires", ())),
        packages=dict(manifest.get("packages", {})),
        manifest=manifest,
    )


def discover(plugins_dir: Path) -> tuple[dict[str, Plugin], list[str]]:
    """Every plugin below ``plugins_dir`` by id, and the reasons for those skipped.

    A broken plugin is skipped with a logged reason naming its file; a second plugin
    with an id already taken is skipped too. The rest load as usual.
    """
    found: dict[str, Plugin] = {}
    problems: list[str] = []
    if not plugins_dir.is_dir():
        problems.append(f"{plugins_dir}: plugins folder does not exist")
        logger.warning("skipped plugins: %s", problems[-1])
        return found, problems
    for module in sorted(p for p in plugins_dir.iterdir() if p.is_dir()):
        if module.name.startswith((".", "_")):
            continue
        folders = [module, *sorted(p for p in module.rglob("*") if p.is_dir())]
        for folder in folders:
            if "__pycache__" in folder.parts:
                continue
            for kind, (manifest_name, *_rest) in _KINDS.items():
                if not (folder / manifest_name).is_file():
                    continue
                try:
                    plugin = load_plugin(folder, kind, module_root=module)  # type: ignore[arg-type]
                except PluginError as exc:
                    problems.append(str(exc))
                    logger.warning("skipped plugin: %s", exc)
                    continue
                if plugin.id in found:
                    problems.append(
                        f"{folder / manifest_name}: id {plugin.id!r} already used by "
                        f"{found[plugin.id].path}"
                    )
                    logger.warning("skipped plugin: %s", problems[-1])
                    continue
                found[plugin.id] = plugin
    return found, problems


def normalizers_for(plugins: dict[str, Plugin], mime_types: set[str] | list[str]) -> list[Plugin]:
    """The normalizers whose ``consumes`` meet a raw file's mime types (``error/*`` never)."""
    if any(m.startswith("error/") for m in mime_types):
        return []
    return [p for p in plugins.values() if p.matches_raw(mime_types)]
