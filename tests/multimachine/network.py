"""Network namespaces for simulated worker machines: each gets a veth link to the host
(the central machine) with a free /30 of 10.231.0.0/16 (:func:`free_link`), and a relay
on the host end to the central RabbitMQ (which listens on loopback only).

Used only where the test runs as root and ``ip netns`` works; everything made here is
removed again by :meth:`Network.close` (deleting a namespace deletes its veth pair)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import uuid

from tests.servers.netns import free_link


def available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    return subprocess.run(["ip", "netns", "list"], capture_output=True).returncode == 0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Network:
    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.namespaces: list[str] = []
        self.relays: list[socket.socket] = []

    def machine(self, number: int) -> tuple[str, str, str]:
        """A namespace linked to the host; (its name, the host's address, its address)."""
        name = f"katmm-{self.tag}-{number}"
        host_if, ns_if = f"kmm{self.tag}{number}h", f"kmm{self.tag}{number}n"
        host_ip, ns_ip = free_link()
        _ip("netns", "add", name)
        self.namespaces.append(name)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", name)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", name, "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        _ip("-n", name, "link", "set", ns_if, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        return name, host_ip, ns_ip

    def relay(self, host: str, port: int, target: tuple[str, int]) -> None:
        """Forward TCP connections to ``host:port`` on to ``target``."""
        listener = socket.create_server((host, port))
        self.relays.append(listener)

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        def accept() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                    upstream = socket.create_connection(target)
                except OSError:
                    return
                for a, b in ((conn, upstream), (upstream, conn)):
                    threading.Thread(target=pipe, args=(a, b), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()

    def close(self) -> None:
        for listener in self.relays:
            listener.close()
        for name in self.namespaces:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
