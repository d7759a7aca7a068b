"""What keeps the KATalogus server's secrets in: its processes are not dumpable, and
without a bearer token it listens on loopback only.

A gunicorn master and its workers hold ``KATALOGUS_PRIVATE_KEY`` in their environment
and decrypted settings in memory. A plugin running as the same user could read
``/proc/<pid>/environ`` or ``/proc/<pid>/mem`` of a dumpable process; a non-dumpable one
is owned by root in ``/proc`` and cannot be traced. Without ``KATALOGUS_API_TOKEN``
anyone who reaches the port reads every decrypted setting, so such a server binds
loopback unless the operator says ``KAT_ALLOW_INSECURE_BIND=1``.
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket

#: prctl option: whether the process may be dumped or traced by its own user (Linux).
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def make_non_dumpable() -> bool:
    """``prctl(PR_SET_DUMPABLE, 0)`` for this process (kept by its forks, lost on exec).

    Returns False where there is no ``prctl`` (not Linux). Raises OSError where the
    kernel refuses: a server that holds the key must not run believing it is protected
    when it is not.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = getattr(libc, "prctl", None)
    if prctl is None:
        return False
    if prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "prctl(PR_SET_DUMPABLE, 0) failed")
    return True


def is_dumpable() -> bool:
    return bool(ctypes.CDLL(None, use_errno=True).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (``""``: every interface)."""
    host = host.strip("[]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(a[4][0]).is_loopback for a in found)


def bind_refusal(addresses: list[tuple[str, str]], token: str | None, allow: bool) -> str | None:
    """Why the server must not listen on ``addresses`` (``(text, host)`` pairs), or None.

    Unix sockets and loopback addresses are always fine; another address needs
    ``KATALOGUS_API_TOKEN`` or an explicit ``KAT_ALLOW_INSECURE_BIND=1``.
    """
    if token or allow:
        return None
    exposed = [text for text, host in addresses if not is_loopback(host)]
    if not exposed:
        return None
    return (
        f"refusing to listen on {', '.join(exposed)} without KATALOGUS_API_TOKEN: anyone "
        "who reaches it could read every decrypted setting. Set KATALOGUS_API_TOKEN, bind "
        "127.0.0.1 (KATALOGUS_BIND=127.0.0.1:8003), or set KAT_ALLOW_INSECURE_BIND=1 if a "
        "proxy in front of it does the authentication"
    )
