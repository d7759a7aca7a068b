"""The machinery of kat's objects (OOIs): natural keys, reference strings, JSON form.

An object's reference is ``ClassName|`` followed by its natural key attributes joined
with ``|``; an attribute that refers to another object contributes that object's natural
key, recursively, without its class name (``IPPort|internet|192.0.2.1|tcp|443``). A few
references carry the full reference of what they point at (``Finding``'s ``ooi``), so
they can point at any type. References parse back into nested objects holding only their
key fields; :func:`parse_reference` and ``obj.reference`` are exact inverses.

Import everything from :mod:`kat.ooi`, which adds the type definitions of
:mod:`kat.ooi.network` (network, DNS) and :mod:`kat.ooi.web` (certificates, web, findings).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

#: Every concrete object type by class name.
TYPES: dict[str, type[OOI]] = {}

#: Abstract reference targets: name -> function picking the concrete class from the
#: tokens of a reference (the list and the position where the referenced key starts).
ABSTRACT: dict[str, Callable[[list[str], int], str]] = {}

#: The class names each reference target accepts: a class, an abstract name, or "OOI".
MEMBERS: dict[str, set[str]] = {}

#: Keys of OpenKAT's serialized form that are not fields of ours; ignored when read.
_IGNORED_KEYS = frozenset(
    {"object_type", "primary_key", "scan_profile", "user_id", "declared", "affirmed"}
)

T = TypeVar("T", bound="type[OOI]")


def ref(target: str, *, full: bool = False, **kwargs: Any) -> Any:
    """A field referring to another object of type ``target`` (a class name, or an
    abstract name such as ``IPAddress``). ``full``: the key holds the target's full
    reference, class name included (Finding.ooi, SoftwareInstance)."""
    return dataclasses.field(metadata={"ref": target, "full": full}, **kwargs)


def ooi_type(*abstract: str) -> Callable[[T], T]:
    """Class decorator: make a keyword-only dataclass, register it in :data:`TYPES`,
    and as a member of the given abstract target names."""

    def register(cls: T) -> T:
        cls = dataclasses.dataclass(kw_only=True, eq=False, repr=False)(cls)
        TYPES[cls.__name__] = cls
        for name in (cls.__name__, *abstract, "OOI"):
            MEMBERS.setdefault(name, set()).add(cls.__name__)
        kinds = {f.name: str(f.type).replace(" ", "") for f in dataclasses.fields(cls)}
        cls._int_fields = frozenset(n for n, k in kinds.items() if k in ("int", "int|None"))
        cls._float_fields = frozenset(n for n, k in kinds.items() if k in ("float", "float|None"))
        cls._str_fields = frozenset(n for n, k in kinds.items() if k in ("str", "str|None"))
        cls._dict_fields = frozenset(n for n, k in kinds.items() if k.startswith("dict"))
        return cls

    return register


class OOI:
    """Base of every object type. Subclasses set ``_natural_key_attrs``."""

    _natural_key_attrs: ClassVar[tuple[str, ...]] = ()
    _int_fields: ClassVar[frozenset[str]] = frozenset()
    _float_fields: ClassVar[frozenset[str]] = frozenset()
    _str_fields: ClassVar[frozenset[str]] = frozenset()
    _dict_fields: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            target = f.metadata.get("ref")
            if target is not None:
                setattr(self, f.name, _as_ref(value, target, self, f.name))
            elif f.name in self._int_fields and not isinstance(value, int):
                setattr(self, f.name, _convert(int, value, self, f.name))
            elif f.name in self._float_fields and not isinstance(value, float):
                setattr(self, f.name, _convert(float, value, self, f.name))
            elif f.name in self._str_fields and not isinstance(value, str):
                raise ValueError(f"{type(self).__name__}.{f.name}: not text: {value!r}")
            elif f.name in self._dict_fields and not isinstance(value, dict):
                raise ValueError(
                    f"{type(self).__name__}.{f.name}: not a JSON object: {type(value).__name__}"
                )
        self._normalize()
        for attr in self._natural_key_attrs:
            value = getattr(self, attr)
            if isinstance(value, str) and "|" in value and attr not in self._hashed_attrs():
                raise ValueError(f"{type(self).__name__}.{attr}: '|' is not allowed in {value!r}")

    def _normalize(self) -> None:
        """Hook: bring field values into canonical form (lower-case names, …)."""

    def _restore_key(self, reference: str) -> None:
        """Hook: recover key parts the fields cannot hold (a digest) from a reference."""

    @classmethod
    def _hashed_attrs(cls) -> frozenset[str]:
        """Key attributes written into the reference as a digest (DNSTXTRecord)."""
        return frozenset()

    def _key_token(self, attr: str, value: Any) -> str:
        """The reference token of a plain key attribute; ``None`` is the empty string."""
        return "" if value is None else str(value)

    # -- identity -------------------------------------------------------------------

    @property
    def object_type(self) -> str:
        return type(self).__name__

    @property
    def natural_key(self) -> str:
        return "|".join(self._natural_key_tokens())

    def _natural_key_tokens(self) -> list[str]:
        tokens: list[str] = []
        fields = {f.name: f for f in dataclasses.fields(self)}
        for attr in self._natural_key_attrs:
            value = getattr(self, attr)
            if isinstance(value, OOI):
                if fields[attr].metadata.get("full"):
                    tokens.append(value.object_type)
                tokens.extend(value._natural_key_tokens())
            elif value is None and fields[attr].metadata.get("ref"):
                raise ValueError(f"{self.object_type}.{attr}: a key reference is missing")
            else:
                tokens.append(self._key_token(attr, value))
        return tokens

    @property
    def reference(self) -> str:
        """The primary key: ``ClassName|natural|key``."""
        return f"{self.object_type}|{self.natural_key}"

    primary_key = reference

    def _comparable(self) -> tuple:
        return tuple(
            v.reference if isinstance(v, OOI) else v
            for v in (getattr(self, f.name) for f in dataclasses.fields(self))
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._comparable() == other._comparable()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self.reference)

    def __repr__(self) -> str:
        return f"{self.object_type}({self.reference!r})"

    # -- forms ----------------------------------------------------------------------

    def serialize(self) -> dict[str, Any]:
        """JSON-able: ``object_type``, ``primary_key`` and every field, references as
        primary-key strings; ``"declared": true`` added for a declaration only."""
        out: dict[str, Any] = {"object_type": self.object_type, "primary_key": self.reference}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.reference if isinstance(value, OOI) else value
        if self.declared:
            out["declared"] = True
        if self.affirmed:
            out["affirmed"] = True
        return out

    def input_dict(self) -> dict[str, Any]:
        """The nested dict OpenKAT hands a boefje (``arguments["input"]``) and a
        normalizer (``input_ooi``): references expanded into their key fields."""
        out: dict[str, Any] = {"object_type": self.object_type, "primary_key": self.reference}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = _tokenized(value, f.metadata.get("full", False))
        return out

    @property
    def declared(self) -> bool:
        """True when a person declared this object (manual normalizers), not observed."""
        return getattr(self, "_declared", False)

    @property
    def affirmed(self) -> bool:
        """True when a normalizer affirms this object: it adds fields (a finding type's
        risk) to an object that exists already, without observing it on an input."""
        return getattr(self, "_affirmed", False)

    @property
    def observed(self) -> bool:
        """True for an observation: what a normalizer saw on its input object. Declared
        scan profiles (:mod:`kat.ooi.scanprofiles`) are not observations either."""
        return not (self.declared or self.affirmed)


class ObservationsWithoutInput(ValueError):
    """A normalizer observed objects, but its job names no input object to tie them to
    (OpenKAT: ``ObservationsWithoutInputOOI``)."""


def check_observations(input_ooi: str | None, objects: list[OOI]) -> None:
    """Raise :class:`ObservationsWithoutInput` when ``objects`` holds observations (not
    declarations) while the job has no input object reference."""
    observed = [obj for obj in objects if obj.observed]
    if observed and not input_ooi:
        raise ObservationsWithoutInput(
            f"the normalizer produced {len(observed)} object(s) but the job has no input object"
        )


def declare(obj: OOI) -> OOI:
    """Mark ``obj`` as a declaration (OpenKAT's manual normalizers) and return it."""
    obj._declared = True  # type: ignore[attr-defined]
    return obj


def affirm(obj: OOI) -> OOI:
    """Mark ``obj`` as an affirmation (OpenKAT's ``NormalizerAffirmation``: the CVE
    finding-type feeder fills in a finding type's risk) and return it."""
    obj._affirmed = True  # type: ignore[attr-defined]
    return obj


def _convert(kind: type, value: Any, owner: OOI, attr: str) -> Any:
    if isinstance(value, bool | dict | list):
        value = repr(value)  # never a number, whatever int() would say
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{type(owner).__name__}.{attr}: not a {kind.__name__}: {value!r}"
        ) from None


def _tokenized(value: Any, full: bool) -> Any:
    if not isinstance(value, OOI):
        return value
    out: dict[str, Any] = {"object_type": value.object_type} if full else {}
    fields = {f.name: f for f in dataclasses.fields(value)}
    for attr in value._natural_key_attrs:
        out[attr] = _tokenized(getattr(value, attr), fields[attr].metadata.get("full", False))
    return out


def _as_ref(value: Any, target: str, owner: OOI, attr: str) -> OOI:
    where = f"{type(owner).__name__}.{attr}"
    if isinstance(value, str):
        value = parse_reference(value)
    elif isinstance(value, dict) and "primary_key" in value:
        value = parse_reference(value["primary_key"])
    if not isinstance(value, OOI):
        raise ValueError(f"{where}: expected a {target} or its reference, got {value!r}")
    if value.object_type not in MEMBERS.get(target, ()):
        raise ValueError(f"{where}: expected a {target}, got a {value.object_type}")
    return value


# -- parsing -------------------------------------------------------------------------


def parse_reference(reference: str) -> OOI:
    """Rebuild the object a reference string names (key fields only).

    Raises ValueError naming what is wrong: an unknown type, too few or too many values.
    """
    if not isinstance(reference, str) or not reference:
        raise ValueError(f"not a reference: {reference!r}")
    tokens = reference.split("|")
    try:
        obj, end = _parse_typed(tokens, 0, "OOI")
    except _Short as exc:
        raise ValueError(f"reference {reference!r}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"reference {reference!r}: {exc}") from None
    if end != len(tokens):
        extra = "|".join(tokens[end:])
        raise ValueError(f"reference {reference!r}: unexpected trailing values {extra!r}")
    return obj


class _Short(ValueError):
    """The reference ended before every key attribute had a value."""


def _parse_typed(tokens: list[str], pos: int, target: str) -> tuple[OOI, int]:
    """Parse ``ClassName|key…`` at ``pos``; the class must belong to ``target``."""
    if pos >= len(tokens):
        raise _Short("missing object type")
    name = tokens[pos]
    if name not in TYPES:
        raise ValueError(f"unknown object type {name!r}")
    if name not in MEMBERS.get(target, ()):
        raise ValueError(f"expected a {target}, got a {name}")
    return _parse_key(TYPES[name], tokens, pos + 1)


def _parse_key(cls: type[OOI], tokens: list[str], pos: int) -> tuple[OOI, int]:
    """Parse the natural key of ``cls`` starting at ``pos``; return the object and the
    position after it."""
    if hasattr(cls, "_parse_tokens"):  # a key the generic rule cannot read (Config)
        return cls._parse_tokens(tokens, pos)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for attr in cls._natural_key_attrs:
        f = fields[attr]
        target = f.metadata.get("ref")
        if target is not None and f.metadata.get("full"):
            values[attr], pos = _parse_typed(tokens, pos, target)
        elif target is not None:
            concrete = target if target in TYPES else ABSTRACT[target](tokens, pos)
            values[attr], pos = _parse_key(TYPES[concrete], tokens, pos)
        else:
            if pos >= len(tokens):
                keys = ", ".join(cls._natural_key_attrs)
                raise _Short(f"{cls.__name__} needs a value for {attr} (key: {keys})")
            values[attr] = tokens[pos] if tokens[pos] != "" or _required(f) else None
            pos += 1
    return cls._from_key(values), pos


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _build(cls: type[OOI], values: dict[str, Any]) -> OOI:
    """Create ``cls`` from key values, filling required non-key fields with None."""
    for f in dataclasses.fields(cls):
        if f.name not in values and _required(f):
            values[f.name] = None
    return cls(**values)


OOI._from_key = classmethod(_build)  # type: ignore[attr-defined]


# -- other forms ---------------------------------------------------------------------


def from_serialized(data: dict[str, Any]) -> OOI:
    """The object :meth:`OOI.serialize` (or OpenKAT's serialized form) describes."""
    if not isinstance(data, dict):
        raise ValueError(f"expected an object as a dict, got {type(data).__name__}")
    name = data.get("object_type")
    if not isinstance(name, str) or name not in TYPES:
        raise ValueError(f"unknown object_type {name!r}")
    cls = TYPES[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in data if k not in known and k not in _IGNORED_KEYS)
    if unknown:
        raise ValueError(f"{name}: unknown field(s) {', '.join(unknown)}")
    values = {k: v for k, v in data.items() if k in known}
    missing = sorted(
        f.name for f in dataclasses.fields(cls) if f.name not in values and _required(f)
    )
    if missing:
        raise ValueError(f"{name}: missing field(s) {', '.join(missing)}")
    try:
        obj = cls(**values)
    except TypeError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if data.get("declared") is True:
        declare(obj)
    if data.get("affirmed") is True:
        affirm(obj)
    given = data.get("primary_key")
    if given and given != obj.reference:
        obj._restore_key(given)
    if given and given != obj.reference:
        raise ValueError(
            f"{name}: primary_key {given!r} does not match the fields ({obj.reference!r})"
        )
    return obj


def input_dict(reference: str) -> dict[str, Any]:
    """The nested input dict OpenKAT gives a boefje or normalizer for ``reference``."""
    return parse_reference(reference).input_dict()


def from_input_dict(data: dict[str, Any]) -> OOI:
    """The object an input dict names (its ``primary_key``); ValueError if it has none."""
    key = data.get("primary_key") if isinstance(data, dict) else None
    if not isinstance(key, str):
        raise ValueError("the input object has no primary_key")
    return parse_reference(key)
