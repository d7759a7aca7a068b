"""dns-bind-version-normalize: the DNS software a name server says it runs.

Reads the JSON list of ``VERSION.BIND`` / ``VERSION.SERVER`` answers and recognises, as
OpenKAT does, BIND (``9.18.24`` or ``bind-9.18``), Microsoft DNS, dnsmasq and PowerDNS;
each one found is Software on the input IP service. Other strings are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, Software, SoftwareInstance
from kat.pluginkit import json_raw


def software_of(version: str) -> tuple[str, str] | None:
    """(name, version) of one answer, or None when it names no known software."""
    if version.startswith("bind") and "-" in version:
        return "bind", version.split("-")[1]
    if version.startswith("9."):
        return "bind", version
    if version.startswith("Microsoft DNS"):
        return "Microsoft DNS", version.replace("Microsoft DNS ", "").split(" ")[0]
    if version.startswith("dnsmasq") and "-" in version:
        return "dnsmasq", version.split("-")[1]
    if version.startswith("PowerDNS"):
        return "PowerDNS", version.replace("PowerDNS Authoritative Server ", "").split(" ")[0]
    return None


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    answers = json_raw(raw, "dns-bind-version raw is not JSON")
    if not isinstance(answers, list):
        raise ValueError("dns-bind-version raw: expected a JSON list of version strings")
    for answer in answers:
        found = software_of(str(answer))
        if found and found[1]:
            software = Software(name=found[0], version=found[1])
            yield software
            yield SoftwareInstance(ooi=input_ooi["primary_key"], software=software)


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    try:
        yield from _objects(input_ooi, raw)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a raw of another shape
        raise ValueError(
            f"dns-bind-version raw: unexpected shape ({type(exc).__name__}: {exc})"
        ) from None
