"""Hypothesis strategies building any kat.ooi object from its type's declaration."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import string

from hypothesis import strategies as st

from kat import ooi

#: Text allowed in a key token: anything but the separator.
token = st.text(
    alphabet=st.characters(blacklist_characters="|", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=20,
)
label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=10)
hostname = st.lists(label, min_size=1, max_size=4).map(".".join)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: str(ipaddress.IPv6Address(a)))

_PREFIX = {v: k for k, v in ooi.FINDING_TYPE_PREFIXES.items()}

#: Plain key values whose form is constrained by the type.
_SPECIAL = {
    ("IPAddressV4", "address"): ipv4,
    ("IPAddressV6", "address"): ipv6,
    ("Hostname", "name"): hostname,
    ("IPPort", "protocol"): st.sampled_from(["tcp", "udp"]),
    ("IPPort", "port"): st.integers(1, 65535),
    ("HostnameHTTPURL", "scheme"): st.sampled_from(["http", "https"]),
    ("IPAddressHTTPURL", "scheme"): st.sampled_from(["http", "https"]),
    ("HostnameHTTPURL", "port"): st.integers(1, 65535),
    ("IPAddressHTTPURL", "port"): st.integers(1, 65535),
    ("AutonomousSystem", "number"): st.integers(0, 2**32 - 1).map(str),
    ("IPV4NetBlock", "mask"): st.integers(0, 32),
    ("IPV6NetBlock", "mask"): st.integers(0, 128),
    ("DeclaredScanProfile", "level"): st.integers(0, 4),
}

#: JSON values for the dict fields (TLSCipher.suites, Incident.meta_data, Config.config).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def _finding_type_id(name: str) -> st.SearchStrategy[str]:
    if name in _PREFIX:
        body = st.text(string.ascii_uppercase + string.digits + "-", min_size=1, max_size=12)
        return body.map(lambda b, p=_PREFIX[name]: (p + b).upper() if p != "RetireJS-" else p + b)
    return token.filter(lambda t: ooi.finding_type_for(t) == "KATFindingType" and t == t.strip())


def _members(target: str, nested: bool) -> list[str]:
    names = sorted(ooi.MEMBERS[target])
    if nested and target == "OOI":
        # keep nesting shallow: a finding about a finding is valid but adds nothing here
        names = [n for n in names if n not in ("Finding", "SoftwareInstance")]
    if target == "FindingType":
        # an ADR rule's id has no prefix, so a Finding's reference reads it back as a
        # KATFindingType (as in Octopoes, where the key holds only the id)
        names = [n for n in names if n != "ADRFindingType"]
    if target == "OOI":
        # a Config reference cannot be parsed; nothing is about a declared scan profile
        names = [n for n in names if n not in ("Config", "DeclaredScanProfile")]
    return names


def _plain(cls: type, f: dataclasses.Field, key: bool) -> st.SearchStrategy:
    special = _SPECIAL.get((cls.__name__, f.name))
    if special is not None:
        return special
    if f.name == "id" and issubclass(cls, ooi.OOI) and "FindingType" in cls.__name__:
        return _finding_type_id(cls.__name__)
    kind = str(f.type).replace(" ", "")
    if kind.startswith("dict"):
        return st.dictionaries(st.text(max_size=8), json_values, max_size=3)
    if kind == "bool":
        return st.booleans()
    if f.name == "risk_severity":
        return st.none() | st.sampled_from(ooi.SEVERITIES)
    base = st.integers(0, 2**31) if kind.startswith("int") else token
    if kind.startswith("float"):
        base = st.floats(0, 10, allow_nan=False)
    if f.name == "dns_record_type":
        return st.just(f.default)
    optional = kind.endswith("|None")
    if key and optional:
        # an empty token reads back as None, so an optional key value is never ""
        return st.none() | base
    return (st.none() | base) if optional else base


# Built once per type and reused: a fresh strategy on every draw made Hypothesis validate
# the whole nested tree again for each example, which cost far more than the test itself.
@functools.cache
def keys_only(name: str, nested: bool = False) -> st.SearchStrategy:
    """An object of class ``name`` with only its key fields set (as parsed references)."""
    return st.deferred(lambda: _build(name, key_only=True, nested=nested))


@functools.cache
def objects(name: str) -> st.SearchStrategy:
    """An object of class ``name`` with every field set or left at None."""
    return _build(name, key_only=False, nested=False)


@functools.cache
def _ref(target: str, nested: bool = True) -> st.SearchStrategy:
    return st.one_of([keys_only(n, nested=True) for n in _members(target, nested)])


def _build(name: str, key_only: bool, nested: bool) -> st.SearchStrategy:
    cls = ooi.TYPES[name]
    parts: dict[str, st.SearchStrategy] = {}
    for f in dataclasses.fields(cls):
        key = f.name in cls._natural_key_attrs
        target = f.metadata.get("ref")
        if f.name == "dns_record_type":
            continue
        if target is not None:
            if key:
                parts[f.name] = _ref(target)
            elif not key_only:
                parts[f.name] = st.none() | _ref(target)
        elif key or not key_only:
            parts[f.name] = _plain(cls, f, key)
    if name == "DNSTXTRecord" and key_only:
        parts["value"] = token
    return st.fixed_dictionaries(parts).map(lambda kw: _make(cls, kw))


def _make(cls: type, kwargs: dict):
    for f in dataclasses.fields(cls):
        if f.name not in kwargs and f.default is dataclasses.MISSING:
            kwargs[f.name] = None
    return cls(**kwargs)
