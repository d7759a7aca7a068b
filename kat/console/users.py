"""Console users: ``users.yaml`` beside the organisations, passwords as argon2 hashes.

::

    users:
      alice: {role: operator, hash: $argon2id$v=19$...}
      bob: {role: viewer, hash: $argon2id$v=19$...}

``kat user add NAME --role viewer|operator`` writes it; the console reads it again when
the file changes, so a removed user's session ends at their next request.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kat.catalogue import yamlfiles

FILE_NAME = "users.yaml"
ROLES = ("viewer", "operator")
NAME_RE = re.compile(r"[a-z][a-z0-9_.-]{0,39}")
#: Shortest password ``kat user add`` accepts.
MIN_PASSWORD = 12

_hasher = PasswordHasher()
#: Verified against when the name is unknown, so a wrong name takes as long as a wrong
#: password (no user enumeration by timing).
_DUMMY = _hasher.hash("not a password of anyone")


class UserError(ValueError):
    """A bad user name, role, password or users file; the message says which."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def operator(self) -> bool:
        return self.role == "operator"


class Users:
    """The users file, re-read when its modification time changes."""

    def __init__(self, catalogue_dir: Path) -> None:
        self.path = Path(catalogue_dir) / FILE_NAME
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[str, dict[str, str]] = {}

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                text = self.path.read_text(encoding="utf-8")
                self._entries = _validate(yamlfiles.parse(text, self.path), self.path)
                self._stamp = stamp
            return self._entries

    def names(self) -> dict[str, str]:
        """Each user's role by name."""
        return {name: e["role"] for name, e in self._load().items()}

    def get(self, name: str) -> User | None:
        entry = self._load().get(name)
        return User(name, entry["role"]) if entry else None

    def authenticate(self, name: str, password: str) -> User | None:
        entry = self._load().get(name)
        try:
            _hasher.verify(entry["hash"] if entry else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(name, entry["role"]) if entry else None

    def add(self, name: str, role: str, password: str, replace: bool = False) -> User:
        if not NAME_RE.fullmatch(name):
            raise UserError(f"user name {name!r}: use 1-40 of a-z 0-9 _ . - starting with a letter")
        if role not in ROLES:
            raise UserError(f"role {role!r}: use viewer or operator")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"password: use at least {MIN_PASSWORD} characters")
        entries = dict(self._load())
        if name in entries and not replace:
            raise UserError(f"user {name!r} exists in {self.path} (--replace to change it)")
        entries[name] = {"role": role, "hash": _hasher.hash(password)}
        self._write(entries)
        return User(name, role)

    def remove(self, name: str) -> None:
        entries = dict(self._load())
        if name not in entries:
            raise UserError(f"no user {name!r} in {self.path}")
        del entries[name]
        self._write(entries)

    def _write(self, entries: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        yamlfiles.write_atomic(self.path, yamlfiles.dump({"users": entries}))
        os.chmod(self.path, 0o600)


def _validate(data: object, path: Path) -> dict[str, dict[str, str]]:
    if data is None:
        return {}
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise UserError(f"{path}: expected a mapping 'users: {{NAME: {{role, hash}}}}'")
    for name, entry in users.items():
        ok = isinstance(entry, dict) and entry.get("role") in ROLES
        if not ok or not isinstance(entry.get("hash"), str):
            raise UserError(f"{path}: user {name!r} needs a role (viewer|operator) and a hash")
    return users
