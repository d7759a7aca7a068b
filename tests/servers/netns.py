"""A network namespace of the test's own, joined to the host by a veth pair.

masscan sends raw Ethernet frames with its own TCP stack; on ``lo`` the kernel drops
them (a frame must be addressed to the all-zero MAC, which masscan takes for "unset").
A veth pair to a namespace is a real link with real MAC addresses, and no packet leaves
the machine. Needs root (``ip netns``).
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path


def _ip(*args: str) -> str:
    return subprocess.run(
        ["ip", *args], check=True, capture_output=True, text=True, timeout=10
    ).stdout


def free_link() -> tuple[str, str]:
    """Two addresses of a /30 in 10.231.0.0/16 that no interface of this machine uses:
    (the host's end, the namespace's end). Chosen at random, so that test runs at once on
    one machine (each with its own namespaces) never share a link's addresses."""
    used = {
        (int(third), int(fourth) // 4)
        for third, fourth in re.findall(r"inet 10\.231\.(\d+)\.(\d+)/", _ip("-4", "-o", "addr"))
    }
    pick = random.SystemRandom()
    for _ in range(1000):
        third, block = pick.randrange(256), pick.randrange(64)
        if (third, block) not in used:
            return f"10.231.{third}.{block * 4 + 1}", f"10.231.{third}.{block * 4 + 2}"
    raise RuntimeError("no free /30 left in 10.231.0.0/16")


class Namespace:
    """``ip netns`` ``name`` with ``peer_ip`` on its side of a /30 and ``host_ip`` here."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"kat-{tag}"
        self.host_if, self.peer_if = f"kh{tag}", f"kp{tag}"
        self.host_ip, self.peer_ip = free_link()
        self._servers: list[subprocess.Popen] = []
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if)
            _ip("link", "set", self.peer_if, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            self.run("ip", "addr", "add", f"{self.peer_ip}/30", "dev", self.peer_if)
            self.run("ip", "link", "set", self.peer_if, "up")
            self.run("ip", "link", "set", "lo", "up")
            self.peer_mac = self.run("cat", f"/sys/class/net/{self.peer_if}/address").strip()
        except BaseException:
            self.close()
            raise

    def run(self, *cmd: str) -> str:
        return _ip("netns", "exec", self.name, *cmd)

    def http_server(self, port: int, folder: Path) -> None:
        """A plain HTTP server on ``peer_ip:port`` inside the namespace."""
        server = subprocess.Popen(
            ["ip", "netns", "exec", self.name, sys.executable, "-m", "http.server",
             str(port), "--bind", self.peer_ip, "--directory", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._servers.append(server)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["ip", "netns", "exec", self.name, "ss", "-ltnH", f"sport = :{port}"],
                capture_output=True, text=True, timeout=10,
            )  # fmt: skip
            if probe.stdout.strip():
                return
            time.sleep(0.1)
        raise RuntimeError(f"the HTTP server in {self.name} did not listen on {port}")

    def close(self) -> None:
        for server in self._servers:
            server.kill()
            server.wait(timeout=10)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
