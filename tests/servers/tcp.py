"""Plain TCP targets on 127.0.0.1: a service banner, and the targets that misbehave.

- :class:`BannerServer` sends a banner line (an SSH one by default) to every connection.
- :class:`BlackHoleServer` accepts connections and never sends a byte.
- :class:`ClosingServer` accepts and closes at once.
- :class:`TrickleServer` sends one byte every so often, forever: every read succeeds,
  so only a deadline on the whole exchange ends it.
- :class:`DroppingPort` drops connection attempts: its listen queue is full and never
  drained, so the kernel ignores further SYNs, as a firewall that drops packets would.
- :func:`closed_port` is a port nobody listens on (the kernel answers with a reset).
"""

from __future__ import annotations

import contextlib
import socket
import threading

SSH_BANNER = b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.7\r\n"


class _Acceptor:
    """A listening socket whose accepted connections go to ``on_connect`` in a thread."""

    def __init__(self, host: str = "127.0.0.1", backlog: int = 64):
        self.sock = socket.create_server((host, 0), backlog=backlog)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self.sock.settimeout(0.05)
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self.on_connect, args=(conn,), daemon=True).start()

    def on_connect(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.close()


class BannerServer(_Acceptor):
    """Sends ``banner`` on connect, then waits for the client to hang up."""

    def __init__(self, banner: bytes = SSH_BANNER, host: str = "127.0.0.1"):
        self.banner = banner
        super().__init__(host)

    def on_connect(self, conn: socket.socket) -> None:
        try:
            conn.sendall(self.banner)
            conn.settimeout(5)
            while conn.recv(1024):
                pass
        except OSError:
            pass
        finally:
            conn.close()


class BlackHoleServer(_Acceptor):
    """Completes the TCP handshake, then never reads or writes; sockets stay open."""

    def on_connect(self, conn: socket.socket) -> None:
        pass


class ClosingServer(_Acceptor):
    """Closes every connection as soon as it is accepted."""

    def on_connect(self, conn: socket.socket) -> None:
        conn.close()


class TrickleServer(_Acceptor):
    """Sends ``data`` one byte per ``interval`` seconds, over and over, never a full line."""

    def __init__(self, data: bytes = b"HTTP/1.1 200 OK", interval: float = 0.2, **kwargs):
        self.data, self.interval = data, interval
        super().__init__(**kwargs)

    def on_connect(self, conn: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                for byte in self.data:
                    conn.sendall(bytes([byte]))
                    if self._stop.wait(self.interval):
                        return
        except OSError:
            pass
        finally:
            conn.close()


class DroppingPort:
    """A port whose connection attempts go unanswered until the client gives up."""

    def __init__(self, host: str = "127.0.0.1"):
        self.sock = socket.create_server((host, 0), backlog=0)
        self.host, self.port = host, self.sock.getsockname()[1]
        # Fill the (never accepted) queue; later SYNs are dropped by the kernel.
        self._fillers = []
        for _ in range(2):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((host, self.port))
            self._fillers.append(filler)

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self.sock.close()


def closed_port(host: str = "127.0.0.1") -> int:
    """A port with no listener right now (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
