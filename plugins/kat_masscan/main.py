"""masscan: open TCP ports across an IPv4 range, fast, with the masscan on the worker.

Runs ``masscan -p PORTS --max-rate MAX_RATE -oJ <file> <range>`` and keeps masscan's
JSON list as OpenKAT's raw (``openkat/masscan-output``), read by
``kat_masscan_normalize``. masscan sends raw packets with its own TCP stack, so the
worker must be root; ``ADAPTER`` and ``ROUTER_MAC`` override what masscan detects
(needed on an interface without a default route).
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import tempfile
from pathlib import Path

DEFAULT_PORTS = "53,80,443"
DEFAULT_RATE = "100"
#: Seconds masscan waits for late answers after its last probe.
WAIT = 3
RUN_LIMIT = 1800
_PORTS = re.compile(r"\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*")
_MAC = re.compile(r"[0-9A-Fa-f]{2}([-:][0-9A-Fa-f]{2}){5}")
_ADAPTER = re.compile(r"[A-Za-z0-9_.@-]{1,15}")


def command(ip_range: str, report: Path) -> list[str]:
    ports = os.environ.get("PORTS") or DEFAULT_PORTS
    rate = os.environ.get("MAX_RATE") or DEFAULT_RATE
    if not _PORTS.fullmatch(ports):
        raise ValueError(f"PORTS={ports!r}: expected ports and ranges like 53,80,443 or 80-82")
    if not rate.isdigit() or not 1 <= int(rate) <= 1_000_000:
        raise ValueError(f"MAX_RATE={rate!r}: expected 1 to 1000000 packets per second")
    cmd = ["masscan", "-p", ports, "--max-rate", rate, "--wait", str(WAIT), "-oJ", str(report)]
    adapter, router_mac = os.environ.get("ADAPTER"), os.environ.get("ROUTER_MAC")
    if adapter:
        if not _ADAPTER.fullmatch(adapter):
            raise ValueError(f"ADAPTER={adapter!r}: not a network interface name")
        cmd += ["--adapter", adapter]
    if router_mac:
        if not _MAC.fullmatch(router_mac):
            raise ValueError(
                f"ROUTER_MAC={router_mac!r}: expected a MAC address like 02-00-5e-10-00-01"
            )
        cmd += ["--router-mac", router_mac.replace(":", "-")]
    return [*cmd, ip_range]


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]
    ip_range = ipaddress.ip_network(
        f"{input_['start_ip']['address']}/{input_['mask']}", strict=False
    )
    if ip_range.version != 4:
        raise ValueError(f"masscan scans IPv4 ranges, not {ip_range}")
    if os.geteuid() != 0:
        raise PermissionError("masscan needs root (raw packets) on the worker")
    with tempfile.TemporaryDirectory(prefix="masscan-") as folder:
        report = Path(folder) / "out.json"
        done = subprocess.run(
            command(str(ip_range), report), capture_output=True, cwd=folder,
            timeout=RUN_LIMIT, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace")[-2000:]
            raise RuntimeError(f"masscan exited with {done.returncode}: {tail}")
        # masscan writes no file when nothing answered: an empty list, as OpenKAT reads it.
        data = report.read_bytes() if report.is_file() else b""
    return [({"openkat/masscan-output"}, data or b"[]")]
