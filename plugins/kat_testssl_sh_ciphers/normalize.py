"""kat_ssl_test_ciphers_normalize: testssl.sh's JSON (``[{id, ip, port, severity,
finding}]``) into one TLSCipher on the input IPService.

Items whose id starts with ``cipher-tls`` (``--cipher-per-proto``) list one suite each:
``TLSv1.2 xc030 ECDHE-RSA-AES256-GCM-SHA384 ECDH 253 AESGCM 256
TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`` (protocol, code, name, key exchange, key size when
given, encryption, bits, IANA name). Other items are ignored; no suite at all yields
nothing. testssl.sh's ``--jsonfile-pretty`` form (an object with ``scanResult``) is read
too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kat.ooi import OOI, TLSCipher, from_input_dict
from kat.pluginkit import json_raw, raw_shape


def parse_cipher(item: dict) -> tuple[str, dict[str, Any]] | None:
    """(protocol, suite) of a ``cipher-tls…`` item; None for any other item."""
    if not str(item.get("id", "")).startswith("cipher-tls"):
        return None
    parts = str(item.get("finding", "")).split()
    try:
        suite: dict[str, Any] = {
            "cipher_suite_code": parts[1],
            "cipher_suite_name": parts[2],
            "key_exchange_algorithm": parts[3],
        }
        rest = parts[4:]
        if rest[0].isdigit():
            suite["key_size"] = int(rest.pop(0))
        suite.update(encryption_algorithm=rest[0], bits=int(rest[1]), cipher_suite_alias=rest[2])
    except (IndexError, ValueError):
        problem = f"testssl.sh raw: {item.get('id')}: unreadable {item.get('finding')!r}"
        raise ValueError(problem) from None
    return parts[0], suite


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("testssl.sh raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    items = json_raw(raw, "testssl.sh raw: not JSON")
    if isinstance(items, dict):  # --jsonfile-pretty
        items = [
            finding
            for result in items.get("scanResult") or ()
            for value in result.values()
            if isinstance(value, list)
            for finding in value
        ]
    if not isinstance(items, list):
        raise ValueError(f"testssl.sh raw: expected a list, got {type(items).__name__}")
    suites: dict[str, list] = {}
    for item in items:
        parsed = parse_cipher(item) if isinstance(item, dict) else None
        if parsed is not None:
            suites.setdefault(parsed[0], []).append(parsed[1])
    if suites:
        yield TLSCipher(ip_service=from_input_dict(input_ooi), suites=suites)
