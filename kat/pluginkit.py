"""Helpers for plugin authors: settings, DNS, deadlines and raw parsing shared by plugins.

A boefje reads its settings from ``os.environ`` (the runtime puts only the properties of
its ``schema.json`` there) and must end within its ``TIMEOUT`` even when the target
trickles, hangs or drops packets. The pieces every boefje needs for that live here, so a
plugin folder holds only what is its own::

    from kat.pluginkit import Budget, resolver, timeout

    def run(boefje_meta):
        budget = Budget(timeout(default=15.0))
        answer = resolver().resolve(name, "A", lifetime=budget.left())

Normalizers use the raw readers at the bottom (:func:`text_raw`, :func:`json_raw`,
:func:`dns_response`, :func:`network_of`): they accept every form of a raw that OpenKAT's
normalizers accept (other encodings, EDNS option lines, dig's output).
Bad settings and malformed raws raise ``ValueError`` with a message naming the setting
or the raw, which the runtime records as the job's failure. dnspython (the ``plugins``
extra) is imported only by the DNS helpers, so the rest works without it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from kat.ooi import Network

if TYPE_CHECKING:
    import dns.message
    import dns.resolver
    import httpx

T = TypeVar("T")

#: The name server a DNS boefje asks when ``REMOTE_NS`` is not set (OpenKAT's default).
DEFAULT_REMOTE_NS = "1.1.1.1"
#: The DNS port assumed when ``REMOTE_NS`` gives none.
DNS_PORT = 53
#: The port a URL of each web scheme implies when it names none.
WEB_PORTS = {"http": 80, "https": 443}


# -- settings -------------------------------------------------------------------------


def timeout(default: float) -> float:
    """``TIMEOUT`` in seconds (``default`` when unset or empty); ValueError unless > 0."""
    try:
        value = float(os.environ.get("TIMEOUT") or default)
    except ValueError:
        raise ValueError(f"TIMEOUT={os.environ['TIMEOUT']!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"TIMEOUT={value} must be more than 0")
    return value


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP``, ``IP:port``, ``[IPv6]:port`` or a bare IPv6 address -> (ip, port)."""
    text = text.strip()
    host, port = text, DNS_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"REMOTE_NS={text!r}: expected [IPv6]:port")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"REMOTE_NS={text!r}: the port must be a number")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"REMOTE_NS={text!r}: not an IP address (with optional :port)") from None
    if not 0 < port < 65536:
        raise ValueError(f"REMOTE_NS={text!r}: port out of range")
    return host, port


def nameserver(default: str = DEFAULT_REMOTE_NS) -> tuple[str, int]:
    """(ip, port) of ``REMOTE_NS`` (``default`` when unset or empty)."""
    return parse_nameserver(os.environ.get("REMOTE_NS") or default)


def resolver(default: str = DEFAULT_REMOTE_NS) -> dns.resolver.Resolver:
    """A dnspython resolver that asks only ``REMOTE_NS``: no system configuration, no
    search domains of the host, no retrying a SERVFAIL."""
    import dns.nameserver
    import dns.resolver

    ip, port = nameserver(default)
    result = dns.resolver.Resolver(configure=False)
    result.nameservers = [dns.nameserver.Do53Nameserver(ip, port)]
    result.retry_servfail = False
    return result


# -- web ------------------------------------------------------------------------------


def netloc(host: str, scheme: str, port: int) -> str:
    """``host[:port]`` for a URL or a Host header: an IPv6 address in brackets, the
    scheme's own port left out (``example.com``, ``example.com:8443``, ``[::1]:8080``)."""
    host = f"[{host}]" if ":" in host else host
    return host if WEB_PORTS.get(scheme) == port else f"{host}:{port}"


def base_url(setting: str, default: str) -> str:
    """The base URL in setting ``setting`` (``default`` when unset or empty), without a
    trailing slash; ValueError unless it is an http(s) URL. Every boefje that asks a
    third-party service takes its address from a setting, so tests can point it at a
    loopback server."""
    value = (os.environ.get(setting) or default).strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{setting}={value!r} is not an http(s) URL")
    return value


def http_get(url: str, seconds: float, headers: dict[str, str] | None = None) -> Any:
    """GET ``url`` within ``seconds`` in all (an ``httpx.Response`` with status 200).

    Any other answer raises ValueError naming the URL and the status, but a 429 (with the
    server's Retry-After) or a 401/403 (the key was refused) raises :class:`APIRefused`.
    The deadline covers the whole exchange, a server that trickles included."""
    import httpx

    def get() -> httpx.Response:
        with httpx.Client(timeout=seconds, follow_redirects=True) as client:
            return client.get(url, headers=headers or {})

    try:
        response = within(seconds, get)
    except (httpx.HTTPError, TimeoutError) as exc:
        raise ValueError(f"GET {url}: {type(exc).__name__}: {exc}") from None
    if response.status_code == 200:
        return response
    reason = f"GET {url}: HTTP {response.status_code}"
    if response.status_code == 429:
        raise APIRefused(
            f"{reason} (rate limited; Retry-After: "
            f"{response.headers.get('Retry-After', 'not given')})"
        )
    if response.status_code in (401, 403):
        raise APIRefused(f"{reason} (the service refused the credentials)")
    raise ValueError(reason)


# -- deadlines ------------------------------------------------------------------------


#: A 429 whose Retry-After is at most this many seconds is waited out once (api_get).
MAX_RETRY_WAIT = 5.0


class APIError(RuntimeError):
    """The API refused or failed; the message says what happened and what to do."""


class APIRefused(APIError):
    """The API would not answer this client: the key was refused (401/403) or the rate
    limit was reached (429; the message names the Retry-After). The runtime fails such a
    job as ``refused`` rather than ``crashed``, and never runs it again by itself: asking
    again at once would be refused again (see :func:`refusal`)."""


def refusal(traceback_text: str) -> str | None:
    """The message of an :class:`APIRefused` that ended a plugin, read from the last line
    of its traceback (``kat.pluginkit.APIRefused: <message>``); None for anything else."""
    lines = traceback_text.strip().splitlines()
    mark = f"{APIRefused.__module__}.{APIRefused.__qualname__}: "
    return lines[-1][len(mark) :] if lines and lines[-1].startswith(mark) else None


def api_get(
    service: str, url: str, seconds: float, ok: tuple[int, ...] = (200,), **request
) -> httpx.Response:
    """GET ``url`` within ``seconds`` overall; :class:`APIRefused` for a refused key
    (401/403) or a rate limit (429, waited out once when short), APIError for any other
    unexpected answer or no answer."""
    from functools import partial

    import httpx  # the plugins' extra, not a dependency of kat itself

    deadline = time.monotonic() + seconds
    for attempt in (1, 2):
        left = deadline - time.monotonic()
        try:
            fetch = partial(httpx.get, url, timeout=left, follow_redirects=False, **request)
            response = within(left, fetch)
        except (httpx.TimeoutException, TimeoutError):
            raise APIError(f"{service}: no answer within {seconds:g} s from {url}") from None
        except httpx.HTTPError as exc:
            raise APIError(f"{service}: cannot reach {url}: {exc}") from None
        if response.status_code in ok:
            return response
        if response.status_code in (401, 403):
            raise APIRefused(f"{service}: the API key was refused ({response.status_code})")
        if response.status_code == 429:
            wait = response.headers.get("Retry-After", "")
            wait_s = float(wait) if wait.isdigit() else None
            if (
                attempt == 1
                and wait_s is not None
                and wait_s <= MAX_RETRY_WAIT
                and wait_s + 1 < left
            ):
                time.sleep(wait_s)
                continue
            raise APIRefused(
                f"{service}: rate limited (429), retry after {wait or 'an unknown time'} s"
            )
        raise APIError(
            f"{service}: unexpected answer {response.status_code}: {response.text[:200]!r}"
        )
    raise AssertionError("unreachable")


class Budget:
    """One deadline for every step of a run, so the whole boefje ends within TIMEOUT."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds until the deadline; zero or less once it has passed."""
        return self.deadline - time.monotonic()


def within(seconds: float, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)``, or TimeoutError once ``seconds`` pass (a trickling server
    resets per-read timeouts forever; this bounds the whole exchange). The worker is a
    daemon thread, so one left behind never keeps the process alive."""
    box: dict = {}

    def work():
        try:
            box["value"] = function(*args)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no complete answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


# -- normalizers: reading raws --------------------------------------------------------


def text_raw(raw: bytes | str) -> str:
    """A raw as text: UTF-8 (a byte-order mark dropped), UTF-16/32 when a byte-order mark
    says so, and Latin-1 for bytes that are no UTF-8 (every byte is a Latin-1 character,
    so an old tool's output is read rather than refused)."""
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    for mark, codec in _BOMS:
        if raw.startswith(mark):
            return raw[len(mark) :].decode(codec, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


#: Byte-order marks and their codecs, longest first (UTF-32's mark starts like UTF-16's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def json_raw(raw: bytes | str, problem: str) -> Any:
    """``raw`` parsed as JSON (any encoding :func:`text_raw` reads), or ValueError
    ``"<problem>: <parser's reason>"``."""
    try:
        return json.loads(text_raw(raw))
    except ValueError as exc:
        raise ValueError(f"{problem}: {exc}") from None


@contextlib.contextmanager
def raw_shape(problem: str) -> Iterator[None]:
    """Within the block, a raw of an unexpected shape (a list where an object was meant,
    a missing key, text where a number was meant) raises ValueError ``"<problem>: …"``
    naming what was wrong, rather than a TypeError or KeyError from deep in a parser::

        with raw_shape("leakix raw"):
            for event in events:
                yield from parse(event)
    """
    try:
        yield
    except KeyError as exc:
        raise ValueError(f"{problem}: missing {exc}") from None
    except (TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"{problem}: unexpected shape ({exc})") from None


def strip_resolver_line(text: str) -> str:
    """An OpenKAT DNS raw without its leading ``RESOLVER: <ip>`` line (if it has one)."""
    lines = text.split("\n")
    if lines and lines[0].startswith("RESOLVER:"):
        lines = lines[1:]
    return "\n".join(lines)


#: dig's section titles -> dnspython's.
_DIG_SECTIONS = {
    ";; QUESTION SECTION:": ";QUESTION",
    ";; ANSWER SECTION:": ";ANSWER",
    ";; AUTHORITY SECTION:": ";AUTHORITY",
    ";; ADDITIONAL SECTION:": ";ADDITIONAL",
}
_DIG_HEADER = re.compile(r"opcode: (\w+), status: (\w+), id: (\d+)")
_DIG_FLAGS = re.compile(r";; flags: ([a-z ]*);")


def readable_dns_text(text: str) -> str:
    """DNS text that dnspython reads back: header ``option …`` lines dropped (dnspython
    writes EDNS options, such as the Extended DNS Errors a resolver adds, but cannot read
    them), and ``dig``'s output turned into dnspython's form (header, flags, section
    titles; dig's comments dropped)."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not any(line.startswith((";; ->>HEADER<<-", ";; QUESTION SECTION:")) for line in lines):
        return "\n".join(line for line in lines if not line.startswith("option "))
    out: list[str] = []
    section = None
    for line in lines:
        header, flags = _DIG_HEADER.search(line), _DIG_FLAGS.match(line)
        if line.startswith(";; ->>HEADER<<-") and header:
            out += [f"id {header[3]}", f"opcode {header[1]}", f"rcode {header[2]}"]
        elif flags:
            out.append("flags " + flags[1].upper())
        elif line.strip() in _DIG_SECTIONS:
            section = _DIG_SECTIONS[line.strip()]
            out.append(section)
        elif section == ";QUESTION" and line.startswith(";") and not line.startswith(";;"):
            out.append(line[1:])  # dig comments the question out
        elif line.strip() and not line.startswith(";"):
            out.append(line)
    return "\n".join(out)


def dns_message(text: str, problem: str) -> dns.message.Message:
    """A DNS message in dnspython's text form (or dig's, see :func:`readable_dns_text`),
    or ValueError ``"<problem>: <reason>"``."""
    import dns.exception
    import dns.message

    try:
        return dns.message.from_text(readable_dns_text(text))
    except (dns.exception.DNSException, ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"{problem}: {exc}") from None


def dns_response(text: str, problem: str) -> dns.message.Message:
    """The DNS message of an OpenKAT DNS raw (``RESOLVER:`` line + dnspython text), or
    ValueError ``"<problem>: <parser's reason>"``."""
    return dns_message(strip_resolver_line(text), problem)


def network_of(input_ooi: dict) -> Network:
    """The Network of an input object's dict (``internet`` when it names none)."""
    return Network(name=(input_ooi.get("network") or {}).get("name") or "internet")
