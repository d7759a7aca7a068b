"""service_banner: read what a TCP service says first (an SSH banner, an SMTP greeting).

Connects to the IPPort, sends nothing, and reads until the first line ends, READ_BYTES
arrive, or TIMEOUT passes. The raw is the banner, decoded (UTF-8, else Latin-1) and
stripped, with mime type ``openkat/service-banner``, as OpenKAT's boefje writes it. As
there too, a port that cannot be reached or says nothing in time gives a short reason
tagged ``error/boefje`` (a result, not a crash; normalizers skip it).
"""

from __future__ import annotations

import os
import socket
import time

DEFAULT_TIMEOUT = 5.0
DEFAULT_READ_BYTES = 1024


def number_setting(names: tuple[str, ...], default: float) -> float:
    """The first of ``names`` set in the environment, as a positive number."""
    for name in names:
        text = os.environ.get(name)
        if text:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{name}={text!r} is not a number") from None
            if value <= 0:
                raise ValueError(f"{name}={text!r} must be more than 0")
            return value
    return default


def read_banner(ip: str, port: int, seconds: float, limit: int) -> bytes:
    deadline = time.monotonic() + seconds
    with socket.create_connection((ip, port), timeout=seconds) as sock:
        data = b""
        while len(data) < limit and b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                chunk = sock.recv(limit - len(data))
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        if not data and time.monotonic() >= deadline:
            raise TimeoutError(f"no banner within {seconds:g} s")
        return data


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]  # an IPPort
    ip, port = input_["address"]["address"], int(input_["port"])
    seconds = number_setting(("TIMEOUT", "REQUEST_TIMEOUT"), DEFAULT_TIMEOUT)
    limit = int(number_setting(("READ_BYTES",), DEFAULT_READ_BYTES))
    try:
        data = read_banner(ip, port, seconds, limit)
    except TimeoutError as exc:
        return [({"error/boefje"}, f"Unable to get banner. {exc or 'timed out'}")]
    except OSError as exc:
        return [({"error/boefje"}, f"Unable to connect to the service. {exc}")]
    try:
        banner = data.decode().strip()
    except UnicodeDecodeError:
        banner = data.decode("latin-1").strip()
    return [({"openkat/service-banner"}, banner)]
