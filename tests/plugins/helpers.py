"""Helpers for plugin tests: load a plugin's code by path, build its inputs, run it.

Plugins are plain folders, not packages, so their ``main.py`` / ``normalize.py`` are
loaded by file path. :func:`run_boefje` sets the boefje's settings as environment
variables for the duration of the call, as the runtime does in its forked child.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

#: The repository's plugins folder.
PLUGINS_DIR = Path(__file__).resolve().parents[2] / "plugins"


def load_module(path: str | Path) -> ModuleType:
    """Import a plugin file (``plugins/kat_dns/main.py``) under a unique module name."""
    path = Path(path)
    if not path.is_absolute():
        path = PLUGINS_DIR / path
    name = f"kat_plugin_{path.parent.name}_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def boefje_meta(boefje_id: str, input_ooi: dict, **arguments) -> dict:
    """A BoefjeMeta dict as the runtime hands it to ``run``."""
    return {
        "id": str(uuid.uuid4()),
        "boefje": {"id": boefje_id, "version": None},
        "input_ooi": input_ooi.get("primary_key"),
        "arguments": {"input": input_ooi, **arguments},
        "organization": "test",
        "environment": {},
    }


@contextmanager
def environment(settings: dict[str, str]) -> Iterator[None]:
    """Set ``settings`` in ``os.environ`` for the block, then restore it."""
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update({k: str(v) for k, v in settings.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_boefje(
    module_dir: str, input_ooi: dict, settings: dict[str, str] | None = None
) -> tuple[list[tuple[set[str], bytes]], float]:
    """Run ``plugins/<module_dir>/main.py`` on ``input_ooi``; return raws (bytes) and seconds."""
    import json

    manifest = json.loads((PLUGINS_DIR / module_dir / "boefje.json").read_text())
    main = load_module(PLUGINS_DIR / module_dir / "main.py")
    meta = boefje_meta(manifest["id"], input_ooi)
    with environment(settings or {}):
        started = time.monotonic()
        results = main.run(meta)
        elapsed = time.monotonic() - started
    raws = []
    for mime_types, raw in results:
        assert isinstance(mime_types, set), f"mime types must be a set, got {mime_types!r}"
        raws.append((mime_types, raw.encode() if isinstance(raw, str) else raw))
    return raws, elapsed


def normalizer_dir(normalizer_id: str) -> Path:
    """The folder of the normalizer with ``normalizer_id`` (searched under plugins/)."""
    import json

    for manifest in PLUGINS_DIR.rglob("normalizer.json"):
        if json.loads(manifest.read_text()).get("id") == normalizer_id:
            return manifest.parent
    raise LookupError(f"no normalizer {normalizer_id!r} under {PLUGINS_DIR}")


def run_normalizer(normalizer_id: str, input_ooi: dict, raw: bytes) -> list:
    """Run a normalizer's ``run(input_ooi, raw)`` and return everything it yields."""
    module = load_module(normalizer_dir(normalizer_id) / "normalize.py")
    return list(module.run(input_ooi, raw) or [])


def references(oois: list) -> list[str]:
    """Primary keys of what a normalizer yielded (objects with ``.reference``)."""
    return [str(getattr(o, "reference", getattr(o, "primary_key", o))) for o in oois]


def by_type(oois: list, type_name: str) -> list:
    return [o for o in oois if getattr(o, "object_type", type(o).__name__) == type_name]


def input_ooi(reference: str) -> dict:
    """The nested input dict OpenKAT hands a boefje for ``reference`` (``kat.ooi.input_dict``)."""
    from kat.ooi import input_dict

    return input_dict(reference)


def raw_with(raws: list[tuple[set[str], bytes]], mime_type: str) -> bytes:
    """The one raw carrying ``mime_type``."""
    found = [raw for mimes, raw in raws if mime_type in mimes]
    assert len(found) == 1, f"expected one raw with {mime_type}, got {[m for m, _ in raws]}"
    return found[0]
