"""kat_manual_csv: declare the objects listed in an uploaded CSV file.

The header row decides the type: a ``name`` column lists hostnames, ``raw`` URLs,
``address`` IP addresses (v4 or v6, after the first row). An optional ``network`` column
names the network (default ``internet``). Every row yields its Network, then its object,
both marked as declarations (a person stated them; nothing was observed). A row that
does not make a valid object is skipped with a warning naming its line.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import logging
from collections.abc import Iterator

from kat.ooi import OOI, URL, Hostname, IPAddressV4, IPAddressV6, Network, declare

logger = logging.getLogger(__name__)


def object_type(header: list[str], first_row: dict[str, str] | None) -> str:
    """The type the CSV lists, from its header (and first address)."""
    columns = {column.strip() for column in header}
    if "name" in columns:
        return "Hostname"
    if "raw" in columns:
        return "URL"
    if "address" in columns:
        address = (first_row or {}).get("address") or "0.0.0.0"
        try:
            version = ipaddress.ip_network(address.strip(), strict=False).version
        except ValueError:
            raise ValueError(f"manual/csv: line 2: not an IP address: {address!r}") from None
        return "IPAddressV6" if version == 6 else "IPAddressV4"
    raise ValueError(
        f"manual/csv: the header {','.join(header)!r} has no name, raw or address column"
    )


def _build(kind: str, row: dict[str, str], network: Network) -> OOI:
    if kind == "Hostname":
        return Hostname(network=network, name=(row.get("name") or "").strip())
    if kind == "URL":
        return URL(network=network, raw=(row.get("raw") or "").strip())
    cls = IPAddressV6 if kind == "IPAddressV6" else IPAddressV4
    return cls(network=network, address=(row.get("address") or "").strip())


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ValueError(f"manual/csv: line {reader.line_num}: {exc}") from None
    if reader.fieldnames is None:
        return  # an empty file declares nothing
    kind = object_type(list(reader.fieldnames), rows[0] if rows else None)
    for line, row in enumerate(rows, start=2):
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue
        try:
            network = Network(name=(row.get("network") or "").strip() or "internet")
            obj = _build(kind, row, network)
        except ValueError as exc:
            logger.warning("manual/csv: line %d skipped: %s", line, exc)
            continue
        yield declare(network)
        yield declare(obj)
