"""Sealed settings: PyNaCl SealedBox values tagged with the id of the key that sealed them.

A stored value looks like ``sealed:<keyid>:<base64>``. The key id (the first 8 hex digits
of the public key's sha256) tells which private key opens a value, so a rotation can
find the values still sealed to the old key. Values are JSON-encoded before sealing, so
numbers and booleans come back as what they were.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from kat.config import Settings

#: Prefix of a sealed value in a catalogue file.
PREFIX = "sealed:"

PUBLIC_VAR, PRIVATE_VAR = "KATALOGUS_PUBLIC_KEY", "KATALOGUS_PRIVATE_KEY"


class SealError(ValueError):
    """A key is malformed or a sealed value cannot be opened; the message names the variable."""


def key_id(public: PublicKey) -> str:
    """Short, stable id of a public key, stored with every value sealed to it."""
    return hashlib.sha256(bytes(public)).hexdigest()[:8]


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def sealed_key_id(value: str) -> str:
    """The key id a sealed value names (``""`` when the value is malformed)."""
    parts = value.split(":", 2)
    return parts[1] if len(parts) == 3 else ""


def _decode_key(text: str, variable: str, cls: type) -> Any:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return cls(raw)
    except (binascii.Error, ValueError, TypeError, CryptoError):
        raise SealError(f"{variable} is not a base64 32-byte PyNaCl key") from None


def generate() -> tuple[str, str]:
    """A new key pair as base64 ``(public, private)``."""
    private = PrivateKey.generate()
    return (
        base64.b64encode(bytes(private.public_key)).decode(),
        base64.b64encode(bytes(private)).decode(),
    )


class Sealer:
    """Seals values to one public key and opens values sealed to any key it holds."""

    def __init__(
        self,
        public_key: str | None,
        private_keys: list[str] | None = None,
        private_var: str = PRIVATE_VAR,
        public_var: str = PUBLIC_VAR,
    ) -> None:
        self.public_var, self.private_var = public_var, private_var
        self._public = _decode_key(public_key, public_var, PublicKey) if public_key else None
        self._boxes: dict[str, SealedBox] = {}
        for text in private_keys or []:
            private = _decode_key(text, private_var, PrivateKey)
            self._boxes[key_id(private.public_key)] = SealedBox(private)
        if self._public is not None and self._boxes and self.key_id not in self._boxes:
            raise SealError(f"{private_var} does not belong to {public_var}")

    @property
    def key_id(self) -> str | None:
        return key_id(self._public) if self._public is not None else None

    @property
    def can_seal(self) -> bool:
        return self._public is not None

    def seal(self, value: Any) -> str:
        """``sealed:<keyid>:<base64>`` of ``value`` (JSON-encoded first)."""
        if self._public is None:
            raise SealError(f"{self.public_var} is not set: cannot seal settings")
        data = json.dumps(value, ensure_ascii=False).encode()
        cipher = SealedBox(self._public).encrypt(data)
        return f"{PREFIX}{self.key_id}:{base64.b64encode(cipher).decode()}"

    def open(self, value: str) -> Any:
        """The plaintext of a sealed value; :class:`SealError` naming the variable if not."""
        kid = sealed_key_id(value)
        box = self._boxes.get(kid)
        if box is None:
            if not self._boxes:
                raise SealError(f"{self.private_var} is not set: cannot open sealed settings")
            raise SealError(
                f"a value is sealed with key {kid or '?'}, but {self.private_var} is for key "
                f"{', '.join(self._boxes)}: set the matching {self.private_var}"
            )
        try:
            cipher = base64.b64decode(value.split(":", 2)[2], validate=True)
            return json.loads(box.decrypt(cipher).decode())
        except (binascii.Error, CryptoError, UnicodeDecodeError, ValueError):
            raise SealError(
                f"a value sealed with key {kid} cannot be opened with {self.private_var}"
            ) from None

    def reveal(self, value: Any) -> Any:
        """``value`` opened if sealed, as is otherwise (a hand-written plaintext)."""
        return self.open(value) if is_sealed(value) else value


def from_settings(settings: Settings) -> Sealer | None:
    """The sealer the configuration asks for; None when no key is configured at all.

    With encryption on, the public key is required. A private key alone (encryption off)
    still opens values sealed earlier.
    """
    if settings.encryption and not settings.public_key:
        raise SealError(f"BYTES_ENCRYPTION_MIDDLEWARE=NACL_SEALBOX needs {PUBLIC_VAR}")
    if not (settings.public_key or settings.private_key):
        return None
    privates = [settings.private_key] if settings.private_key else []
    return Sealer(settings.public_key if settings.encryption else None, privates)
