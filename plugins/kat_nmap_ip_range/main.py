"""nmap, nmap-udp and nmap-ip-range: run the nmap installed on the worker, keep its XML.

One file serves the three boefjes (the same ``main.py`` is in each of their folders);
the boefje id picks the scan, as OpenKAT's ``oci_arguments`` do:

- ``nmap``: TCP, ``PORTS`` when given, else the ``TOP_PORTS`` most common (250);
- ``nmap-udp``: UDP, ``PORTS`` when given, else ``TOP_PORTS_UDP`` (250; 10 for a range);
- ``nmap-ip-range``: TCP over a whole IPV4NetBlock / IPV6NetBlock, ``TOP_PORTS`` (250).

A range wider than ``MIN_VLSM_IPV4`` / ``MIN_VLSM_IPV6`` allows (a /22, a /118) is not
scanned: the raw says so (``info/boefje``), as in OpenKAT. The raw is nmap's XML
(``openkat/nmap-output``), read by ``kat_nmap_normalize``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess

#: nmap's own options, as OpenKAT gives them (service detection, open ports only).
BASE_ARGUMENTS = ["--open", "-T4", "-Pn", "-r", "-sV"]
DEFAULT_TIMEOUT = 600.0
#: PORTS as nmap reads it: ports, ranges and protocol prefixes (T:, U:), comma separated.
VALID_PORTS = re.compile(r"([TU]:)?\d{1,5}(-\d{1,5})?(,([TU]:)?\d{1,5}(-\d{1,5})?)*")


def _integer(name: str, default: int, low: int, high: int) -> int:
    text = os.environ.get(name) or str(default)
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{name}={text!r}: expected a whole number from {low} to {high}")
    return int(text)


def target(
    input_: dict,
) -> (
    ipaddress.IPv4Address
    | ipaddress.IPv6Address
    | ipaddress.IPv4Network
    | ipaddress.IPv6Network
    | None
):
    """The address or range to scan; None for a range wider than MIN_VLSM_* allows."""
    kind = input_["object_type"]
    if kind in ("IPAddressV4", "IPAddressV6"):
        return ipaddress.ip_address(input_["address"])
    if kind in ("IPV4NetBlock", "IPV6NetBlock"):
        network = ipaddress.ip_network(
            f"{input_['start_ip']['address']}/{input_['mask']}", strict=False
        )
        if network.version == 4:
            least = _integer("MIN_VLSM_IPV4", 22, 0, 32)
        else:
            least = _integer("MIN_VLSM_IPV6", 118, 0, 128)
        return network if network.prefixlen >= least else None
    raise ValueError(f"nmap cannot scan a {kind}")


def command(boefje_id: str, scan_target) -> list[str]:
    """The nmap command line for this boefje and target."""
    udp = boefje_id == "nmap-udp"
    # UDP and SYN scans need raw sockets (root); a connect scan does not.
    scan_type = "-sU" if udp else ("-sS" if os.geteuid() == 0 else "-sT")
    cmd = ["nmap", *BASE_ARGUMENTS, scan_type]
    ports = (os.environ.get("PORTS") or "").replace(" ", "")
    if ports:
        if not VALID_PORTS.fullmatch(ports):
            raise ValueError(f"PORTS={ports!r}: expected ports and ranges like 22,80,8000-8100")
        cmd.append(f"-p{ports}")
    elif udp:
        single = isinstance(scan_target, ipaddress.IPv4Address | ipaddress.IPv6Address)
        cmd += ["--top-ports", str(_integer("TOP_PORTS_UDP", 250 if single else 10, 1, 65535))]
    else:
        cmd += ["--top-ports", str(_integer("TOP_PORTS", 250, 1, 65535))]
    if scan_target.version == 6:
        cmd.append("-6")
    seconds = float(os.environ.get("TIMEOUT") or DEFAULT_TIMEOUT)
    cmd += ["--host-timeout", f"{max(1, int(seconds))}s", "-oX", "-", str(scan_target)]
    return cmd


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]
    scan_target = target(input_)
    if scan_target is None:
        return [
            ({"info/boefje"}, "Skipping range: its mask is wider than MIN_VLSM_IPV4/IPV6 allow")
        ]
    if boefje_meta["boefje"]["id"] == "nmap-udp" and os.geteuid() != 0:
        raise PermissionError("nmap-udp needs root (raw sockets) on the worker")
    seconds = float(os.environ.get("TIMEOUT") or DEFAULT_TIMEOUT)
    cmd = command(boefje_meta["boefje"]["id"], scan_target)
    # --host-timeout bounds the scan; this bounds nmap itself, with a margin to write XML.
    done = subprocess.run(cmd, capture_output=True, timeout=seconds + 30, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"nmap exited with {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}"
        )
    return [({"openkat/nmap-output"}, done.stdout)]
