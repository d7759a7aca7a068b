"""The catalogue: organisations and repositories as YAML files in git, shared by the
KATalogus and the workers.

``catalogue/organisations/<id>.yaml`` holds an organisation's name and, per plugin, its
``enabled`` state and ``settings`` (sealed at rest when encryption is on);
``catalogue/repositories/<id>.yaml`` holds a plugin repository. Reads are served from a
cache checked against each file's stat, so hand edits, ``git pull`` and other gunicorn
workers' writes are seen at once; a file that stops parsing is logged with its path and
line while its last good state keeps serving. Writes re-read the file under the lock.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kat.catalogue import records, yamlfiles
from kat.catalogue.commits import GroupCommit, Pending
from kat.catalogue.errors import (
    BrokenFile,
    CatalogueError,
    Exists,
    Forbidden,
    InvalidValue,
    SealedValueError,
    UnknownOrganisation,
    UnknownRepository,
    UnknownSetting,
    check_id,
)
from kat.catalogue.records import KEY_RE
from kat.catalogue.sealing import Sealer, SealError, from_settings, is_sealed
from kat.catalogue.yamlfiles import Folder
from kat.config import Settings

logger = logging.getLogger(__name__)

#: The repository that is the plugins folder; it cannot be deleted.
LOCAL = "LOCAL"
#: Most sealed values whose plaintext a remembering catalogue keeps at once.
MAX_REMEMBERED = 100_000
#: The lock file all writers share (a separate file: see :mod:`kat.catalogue.yamlfiles`).
LOCK_NAME = ".lock"


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON (so ``1`` and ``True`` differ, as they do in a schema)."""
    if type(a) is type(b) and isinstance(a, _SCALARS):
        return a == b
    return a == b and json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


#: Types whose values are equal as JSON exactly when they are equal and of one type.
_SCALARS = (str, int, float, bool, type(None))


def org_text(org: dict[str, Any]) -> str:
    """The file of an organisation: id, name, then plugins and settings in their order."""
    return _dump(records.org_file_data(org))


def _dump(data: dict[str, Any]) -> str:
    try:
        return yamlfiles.dump(data)
    except UnicodeError:
        raise InvalidValue("a value is not valid Unicode (lone surrogate)") from None


_UNSEEN = object()


class _Json(str):
    """A remembered plaintext list or mapping, kept as its JSON text."""

    def __new__(cls, value: Any) -> _Json:
        return super().__new__(cls, json.dumps(value))


class Catalogue:
    """The file-backed catalogue: the workers' reader and the KATalogus' store."""

    def __init__(
        self, root: Path | str, sealer: Sealer | None = None, remember_opened: bool = False
    ) -> None:
        self.root = Path(root)
        self.sealer = sealer
        # Sealed value -> its plaintext as JSON, so a write or read of a plugin with many
        # sealed settings opens only the values it has not seen (an X25519 operation each).
        # Only the KATalogus server asks for it: it holds the private key anyway, and its
        # processes are not dumpable. A job helper must not keep plaintext between jobs.
        self._opened: dict[str, Any] | None = {} if remember_opened else None
        self.orgs = Folder(
            self.root / "organisations",
            records.validate_org,
            check_id,
            UnknownOrganisation,
            BrokenFile,
            "organisation",
        )
        self.repos = Folder(
            self.root / "repositories",
            records.validate_repo,
            check_id,
            UnknownRepository,
            BrokenFile,
            "repository",
        )
        self._lock_path = self.root / LOCK_NAME
        self._thread_lock = threading.Lock()
        self._commits = GroupCommit(self._thread_lock, self._file_lock)

    @classmethod
    def from_settings(cls, settings: Settings, remember_opened: bool = False) -> Catalogue:
        try:
            sealer = from_settings(settings)
        except SealError as exc:
            raise SealedValueError(str(exc)) from None
        return cls(settings.catalogue_dir, sealer, remember_opened)

    # -- reading ---------------------------------------------------------------------

    def organisations(self) -> list[str]:
        return [org["id"] for org in self.orgs.all()]

    def list_organisations(self) -> list[dict[str, str]]:
        return [{"id": o["id"], "name": o["name"]} for o in self.orgs.all()]

    def organisation(self, org_id: str) -> dict[str, str]:
        org = self.orgs.get(org_id)
        return {"id": org["id"], "name": org["name"]}

    def enabled_states(self, org_id: str) -> dict[str, bool]:
        """The organisation's explicit enabled states by plugin id."""
        plugins = self.orgs.get(org_id)["plugins"]
        return {pid: s["enabled"] for pid, s in plugins.items() if "enabled" in s}

    def plugin_state(self, org_id: str, plugin_id: str) -> tuple[bool | None, dict[str, Any]]:
        """``(enabled or None, decrypted settings)`` of a plugin for an organisation."""
        check_id(plugin_id, "plugin id")
        state = self.orgs.get(org_id)["plugins"].get(plugin_id, {})
        return state.get("enabled"), self._reveal_all(state.get("settings", {}))

    def settings(self, org_id: str, plugin_id: str) -> dict[str, Any]:
        return self.plugin_state(org_id, plugin_id)[1]

    def get_setting(self, org_id: str, plugin_id: str, key: str) -> Any:
        settings = self.settings(org_id, _check_key_plugin(plugin_id, key))
        if key not in settings:
            raise UnknownSetting(f"plugin {plugin_id!r} has no setting {key!r} for {org_id!r}")
        return settings[key]

    def repositories(self) -> list[dict[str, str]]:
        return list(self.repos.all())

    def repository(self, repo_id: str) -> dict[str, str]:
        return self.repos.get(repo_id)

    def _reveal_all(self, stored: dict[str, Any]) -> dict[str, Any]:
        try:
            if self.sealer is None:
                if any(is_sealed(v) for v in stored.values()):
                    raise SealError("KATALOGUS_PRIVATE_KEY is not set: cannot open sealed settings")
                return dict(stored)
            return {k: self._open(v) if is_sealed(v) else v for k, v in stored.items()}
        except SealError as exc:
            raise SealedValueError(str(exc)) from None

    def _open(self, sealed: str) -> Any:
        if self._opened is None:
            return self.sealer.open(sealed)
        known = self._opened.get(sealed, _UNSEEN)
        if known is _UNSEEN:
            value = self.sealer.open(sealed)
            self._remember(sealed, value)
            return value
        return json.loads(known) if isinstance(known, _Json) else known

    def _remember(self, sealed: str, value: Any) -> None:
        if self._opened is None:
            return
        if len(self._opened) >= MAX_REMEMBERED:
            self._opened.clear()
        # Text and numbers as they are; lists and mappings as JSON, so every caller gets
        # a copy of its own to change.
        self._opened[sealed] = value if isinstance(value, _SCALARS) else _Json(value)

    def problems(self) -> list[yamlfiles.FileProblem]:
        """The catalogue's files that are broken on disk now (path, line and reason)."""
        return self.repos.problems() + self.orgs.problems()

    def refresh(self, paths: list[Path | str]) -> None:
        """Re-read changed files now (the watcher calls this), logging any that broke."""
        kinds = {"organisations": self.orgs, "repositories": self.repos}
        for path in map(Path, paths):
            kind = kinds.get(path.parent.name)
            if kind is None or path.suffix != ".yaml" or path.name.startswith("."):
                continue
            with contextlib.suppress(CatalogueError):  # gone, or broken and logged
                kind.get(path.stem)

    # -- writing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the catalogue's write lock (what every writer and ``kat catalogue reseal`` take).

        Threads of one process queue on a thread lock first, so only one of them at a time
        contends for the ``flock`` with other processes (``flock`` is not fair: a crowd of
        waiters starves some of them).
        """
        try:
            with self._thread_lock, self._file_lock():
                yield
        finally:
            self._commits.wake()

    def _file_lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        return yamlfiles.locked(self._lock_path)

    def create_organisation(self, org_id: str, name: str | None = None) -> dict[str, str]:
        path = self.orgs.path(org_id)
        with self.locked():
            if path.exists():
                raise Exists(f"organisation {org_id!r} already exists")
            path.parent.mkdir(parents=True, exist_ok=True)
            self.orgs.store(
                org_id, path, org_text({"id": org_id, "name": name or org_id, "plugins": {}})
            )
        return {"id": org_id, "name": name or org_id}

    def delete_organisation(self, org_id: str) -> None:
        path = self.orgs.path(org_id)
        with self.locked():
            try:
                path.unlink()
            except FileNotFoundError:
                raise UnknownOrganisation(f"organisation {org_id!r} does not exist") from None
            self.orgs.cache.pop(org_id, None)

    def update(self, org_id: str, change: Callable[[dict[str, Any]], Any]) -> Any:
        """Apply ``change`` to the organisation as on disk, under the lock, and write it.

        ``change`` gets the stored form (sealed values sealed) and mutates it; what it
        returns is returned. Unchanged content is not rewritten. Changes that other
        threads of this process queue meanwhile are written with it, in one write
        (:mod:`kat.catalogue.commits`).
        """
        self.orgs.path(org_id)  # a malformed id is refused before anything is queued
        return self._commits.submit(org_id, change, self._commit)

    def _commit(self, org_id: str, batch: list[Pending]) -> Callable[[], None] | None:
        """Apply a batch of changes to the organisation's file and write it once (called
        with the lock held). A change that raises is left out; only it gets the error.
        Returns the folder's fsync, which makes the new file's name durable."""
        for _attempt in range(5):
            path, stored, before = self.orgs.load_fresh(org_id)
            org = copy.deepcopy(stored)
            old = records.org_file_data(org)
            outcomes: list[tuple[Any, BaseException | None]] = []
            for item in batch:
                # One change alone needs no copy: if it fails, nothing is written.
                trial = org if len(batch) == 1 else copy.deepcopy(org)
                try:
                    outcomes.append((item.change(trial), None))
                    org = trial
                except Exception as exc:
                    outcomes.append((None, exc))
            new = records.org_file_data(org)
            if not (_same(old, new) and list(old) == list(new)):
                # A hand edit made without the lock between our read and now: start over
                # (a file deleted meanwhile is then unknown, as for any other request).
                try:
                    if yamlfiles.stat_key(os.stat(path)) != before:
                        continue
                except FileNotFoundError:
                    continue
                # Not validated again: each change checked what it brought, and the rest
                # is the file as read (1,200 sealed settings must not be re-checked).
                self.orgs.store(
                    org_id, path, _dump(new), records.normal_form(new), sync_folder=False
                )
                durable = functools.partial(yamlfiles.fsync_folder, path.parent)
            else:
                durable = None
            for item, (result, error) in zip(batch, outcomes, strict=True):
                item.settle(result, error)
            return durable
        raise CatalogueError(f"{path} keeps changing; try again")

    def _store_value(self, old: Any, new: Any, present: bool, old_plain: Any) -> Any:
        """What to write for ``new``: sealed when encryption is on, the old ciphertext kept
        when the value did not change (SealedBox output is random: no churn in git).
        ``old_plain`` is ``old`` opened, so nothing is opened twice."""
        # Also with sealing off (a private key alone): a write of one setting must not
        # turn the plugin's other sealed values into plaintext in the file.
        if present and is_sealed(old) and _same(old_plain, new):
            return old
        if self.sealer is not None and self.sealer.can_seal:
            try:
                sealed = self.sealer.seal(new)
                self._remember(sealed, new)
                return sealed
            except SealError as exc:
                raise SealedValueError(str(exc)) from None
            except (UnicodeError, TypeError, ValueError):
                raise InvalidValue("a value is not JSON with valid Unicode") from None
        if is_sealed(new):
            raise InvalidValue("values starting with 'sealed:' are sealed values: use kat seal")
        return new

    def set_enabled(self, org_id: str, plugin_id: str, enabled: bool | None) -> None:
        """Enable or disable a plugin for an organisation (None: back to the default)."""
        check_id(plugin_id, "plugin id")

        def change(org: dict[str, Any]) -> None:
            state = org["plugins"].setdefault(plugin_id, {"settings": {}})
            if enabled is None:
                state.pop("enabled", None)
            else:
                state["enabled"] = bool(enabled)

        self.update(org_id, change)

    def replace_settings(
        self,
        org_id: str,
        plugin_id: str,
        values: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]],
        validate: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Set a plugin's settings to ``values`` (or to ``values(current)``), validated by
        ``validate`` on the plaintext under the lock. Returns the new plaintext."""
        check_id(plugin_id, "plugin id")

        def change(org: dict[str, Any]) -> dict[str, Any]:
            state = org["plugins"].setdefault(plugin_id, {"settings": {}})
            stored = state.setdefault("settings", {})
            current = self._reveal_all(stored)
            new = values(dict(current)) if callable(values) else dict(values)
            for key in new:
                if not isinstance(key, str) or not KEY_RE.fullmatch(key):
                    raise InvalidValue(f"setting name {key!r:.80} is not a valid variable name")
                problem = records.value_problem(new[key])
                if problem:
                    raise InvalidValue(f"setting {key}: {problem}")
            if validate is not None:
                validate(new)
            # The file's order first (a person's order stays), new settings after it.
            order = [k for k in stored if k in new] + [k for k in new if k not in stored]
            state["settings"] = {
                k: self._store_value(stored.get(k), new[k], k in stored, current.get(k))
                for k in order
            }
            return {k: new[k] for k in order}

        return self.update(org_id, change)

    def put_setting(
        self,
        org_id: str,
        plugin_id: str,
        key: str,
        value: Any,
        create: bool = False,
        validate: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Set one setting; with ``create`` it must not exist yet (:class:`Exists`)."""
        _check_key_plugin(plugin_id, key)

        def merged(current: dict[str, Any]) -> dict[str, Any]:
            if create and key in current:
                raise Exists(f"setting {key!r} of {plugin_id!r} already exists for {org_id!r}")
            return {**current, key: value}

        self.replace_settings(org_id, plugin_id, merged, validate)

    def delete_setting(self, org_id: str, plugin_id: str, key: str) -> None:
        _check_key_plugin(plugin_id, key)

        def without(current: dict[str, Any]) -> dict[str, Any]:
            if key not in current:
                raise UnknownSetting(f"plugin {plugin_id!r} has no setting {key!r}")
            return {k: v for k, v in current.items() if k != key}

        self.replace_settings(org_id, plugin_id, without)

    def clone_settings(self, from_org: str, to_org: str) -> None:
        """OpenKAT's clone: plugins enabled in ``to_org`` are disabled, then each plugin's
        settings in ``from_org`` replace the target's, then what ``from_org`` enables is
        enabled. Sealed values are copied as they are (no key needed)."""
        source = self.orgs.get(from_org)["plugins"]

        def change(org: dict[str, Any]) -> None:
            for state in org["plugins"].values():
                if state.get("enabled"):
                    state["enabled"] = False
            for pid, state in source.items():
                target = org["plugins"].setdefault(pid, {"settings": {}})
                if state.get("settings"):
                    target["settings"] = dict(state["settings"])
                if state.get("enabled"):
                    target["enabled"] = True

        self.update(to_org, change)

    def create_repository(self, repo_id: str, name: str, base_url: str) -> dict[str, str]:
        path = self.repos.path(repo_id)
        repo = {"id": repo_id, "name": name, "base_url": base_url}
        with self.locked():
            if path.exists():
                raise Exists(f"repository {repo_id!r} already exists")
            path.parent.mkdir(parents=True, exist_ok=True)
            self.repos.store(repo_id, path, _dump(repo))
        return repo

    def delete_repository(self, repo_id: str) -> None:
        path = self.repos.path(repo_id)
        if repo_id == LOCAL:
            raise Forbidden("the LOCAL repository is the plugins folder and cannot be deleted")
        with self.locked():
            try:
                path.unlink()
            except FileNotFoundError:
                raise UnknownRepository(f"repository {repo_id!r} does not exist") from None
            self.repos.cache.pop(repo_id, None)


def _check_key_plugin(plugin_id: str, key: str) -> str:
    check_id(plugin_id, "plugin id")
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise InvalidValue(f"setting name {key!r:.80} is not a valid variable name")
    return plugin_id
