"""kat_crt_sh_normalize: hostnames and still-valid certificates from crt.sh's JSON.

Every name in a certificate's ``name_value`` (one per line) and its common name (a
leading ``*.`` dropped) is a Hostname on the internet; a certificate whose
``not_after`` is still ahead is an X509Certificate (expired ones only hint names).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from kat.ooi import OOI, Hostname, Network, X509Certificate
from kat.pluginkit import json_raw


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    results = json_raw(raw, "certificate-search raw is not JSON")
    if not isinstance(results, list):
        raise ValueError("certificate-search raw: expected a JSON list of certificates")
    network = Network(name="internet")
    seen: set[str] = set()
    now = datetime.now(UTC)
    for certificate in results:
        common_name = certificate["common_name"].lower().lstrip("*").lstrip(".")
        names = certificate["name_value"].lower().splitlines() + [common_name]
        for name in names:
            name = name.strip().lstrip("*").lstrip(".")
            if name and name not in seen:
                seen.add(name)
                yield Hostname(name=name, network=network)
        valid_until = _moment(certificate["not_after"])
        if valid_until > now:
            yield X509Certificate(
                subject=common_name,
                issuer=certificate["issuer_name"],
                valid_from=certificate["not_before"],
                valid_until=certificate["not_after"],
                serial_number=certificate["serial_number"].upper(),
                expires_in=str(valid_until - now),
            )


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    try:
        yield from _objects(input_ooi, raw)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a raw of another shape
        raise ValueError(
            f"certificate-search raw: unexpected shape ({type(exc).__name__}: {exc})"
        ) from None
