"""An authoritative DNS server on 127.0.0.1 (UDP and TCP, one free port), built with dnspython.

It serves a small namespace made at start-up:

- ``test.``: signed with a fresh ECDSA key; the trust anchor tests give ``dns-sec``
  (``trust_anchor`` is its DS record). It delegates ``example.test.`` without a DS
  (unsigned), and ``signed.test.`` and ``bogus.test.`` with one.
- ``example.test.``: unsigned; A, AAAA, MX, NS, SOA, TXT, CAA, CNAME, DMARC and DKIM names.
- ``signed.test.``: correctly signed. ``bogus.test.``: signed, but the signature of its
  A record is broken, so validation must fail.
- ``127.in-addr.arpa.``: a PTR for 127.0.0.1; 127.0.0.2 has none (NXDOMAIN).

Answers carry RRSIGs when the query sets the DO bit. A DS query for a zone apex is
answered from the parent zone, as a real resolver would. ``queries`` records each
(name, type, transport) seen, so tests can check what a boefje asked.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading

import dns.dnssec
import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = dns.dnssec.Algorithm.ECDSAP256SHA256

PARENT_ZONE = """
@ 300 IN SOA ns1.test. hostmaster.test. 2024010101 3600 600 86400 300
@ 300 IN NS ns1
ns1 300 IN A 127.0.0.1
example 300 IN NS ns1.test.
signed 300 IN NS ns1.test.
bogus 300 IN NS ns1.test.
"""

EXAMPLE_ZONE = """
@ 300 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 600 86400 300
@ 300 IN NS ns1.example.test.
@ 300 IN NS ns2.example.test.
@ 300 IN A 127.0.0.1
@ 300 IN AAAA ::1
@ 300 IN MX 10 mail.example.test.
@ 300 IN MX 20 mail2.example.test.
@ 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"
@ 300 IN CAA 0 issue "letsencrypt.org"
www 300 IN CNAME example.test.
mail 300 IN A 127.0.0.1
mail2 300 IN A 127.0.0.1
ns1 300 IN A 127.0.0.1
ns2 300 IN A 127.0.0.1
_dmarc 300 IN TXT "v=DMARC1; p=reject"
selector1._domainkey 300 IN TXT "v=DKIM1; k=rsa; p=AAAA"
""" + "".join(  # more TXT than fits a 512-byte UDP answer: truncated, then asked over TCP
    f'big 300 IN TXT "record {i:02d} {"x" * 40}"\n' for i in range(12)
)

SIGNED_ZONE = """
@ 300 IN SOA ns1.test. hostmaster.test. 2024010101 3600 600 86400 300
@ 300 IN NS ns1.test.
@ 300 IN A 127.0.0.1
www 300 IN A 127.0.0.1
alias 300 IN CNAME www
"""

REVERSE_ZONE = """
@ 300 IN SOA ns1.test. hostmaster.test. 2024010101 3600 600 86400 300
@ 300 IN NS ns1.test.
1.0.0 300 IN PTR localhost.example.test.
"""


def _zone(text: str, origin: str) -> dns.zone.Zone:
    return dns.zone.from_text(text, origin=origin, relativize=False)


def _sign(zone: dns.zone.Zone) -> dns.rdtypes.ANY.DNSKEY.DNSKEY:
    """Sign ``zone`` with a fresh P-256 key (KSK and ZSK in one); return its DNSKEY."""
    key = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(key.public_key(), ALGORITHM, flags=257)
    dns.dnssec.sign_zone(zone, keys=[(key, dnskey)], lifetime=7 * 86400)
    return dnskey


def _break_signature(zone: dns.zone.Zone, name: str, covers: dns.rdatatype.RdataType) -> None:
    """Flip a bit in the RRSIG over ``name``/``covers`` so that it no longer validates."""
    node = zone.find_node(dns.name.from_text(name))
    sigs = node.find_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covers)
    broken = [
        sig.replace(signature=bytes([sig.signature[0] ^ 0x01]) + sig.signature[1:]) for sig in sigs
    ]
    sigs.clear()
    for sig in broken:
        sigs.add(sig)


def build_zones() -> tuple[list[dns.zone.Zone], dns.rrset.RRset]:
    """The served zones and the trust anchor (DS of ``test.``)."""
    parent = _zone(PARENT_ZONE, "test.")
    example = _zone(EXAMPLE_ZONE, "example.test.")
    signed = _zone(SIGNED_ZONE, "signed.test.")
    bogus = _zone(SIGNED_ZONE, "bogus.test.")
    reverse = _zone(REVERSE_ZONE, "127.in-addr.arpa.")
    with parent.writer() as txn:
        for child in (signed, bogus):
            ds = dns.dnssec.make_ds(child.origin, _sign(child), "SHA256")
            txn.add(child.origin, 300, ds)
    _break_signature(bogus, "bogus.test.", dns.rdatatype.A)
    parent_key = _sign(parent)
    anchor = dns.rrset.from_rdata(
        parent.origin, 300, dns.dnssec.make_ds(parent.origin, parent_key, "SHA256")
    )
    return [parent, example, signed, bogus, reverse], anchor


class Resolver:
    """Answers one query from the zones (no recursion outside them: REFUSED).

    Names under one of ``unreachable`` get what a recursive resolver answers when none
    of a zone's authoritative servers answers (a lame delegation): SERVFAIL with the
    Extended DNS Error 22, "No Reachable Authority" (RFC 8914)."""

    def __init__(self, zones: list[dns.zone.Zone]):
        self.zones = zones
        self.unreachable: list[dns.name.Name] = []

    def _zone_for(self, qname: dns.name.Name, qtype: int) -> dns.zone.Zone | None:
        matches = sorted(
            (z for z in self.zones if qname.is_subdomain(z.origin)),
            key=lambda z: len(z.origin),
            reverse=True,
        )
        if qtype == dns.rdatatype.DS and matches and matches[0].origin == qname:
            matches = matches[1:]  # DS lives in the parent zone
        return matches[0] if matches else None

    def _add(self, section: list, zone, name, rdtype, dnssec: bool) -> bool:
        node = zone.get_node(name)
        if node is None:
            return False
        rdataset = node.get_rdataset(dns.rdataclass.IN, rdtype)
        if rdataset is None:
            return False
        section.append(dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset)))
        if dnssec:
            sigs = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)
            if sigs is not None:
                section.append(dns.rrset.from_rdata_list(name, sigs.ttl, list(sigs)))
        return True

    def _exists(self, zone: dns.zone.Zone, name: dns.name.Name) -> bool:
        """A node, or an empty non-terminal (a name with nodes below it)."""
        return any(n == name or n.is_subdomain(name) for n in zone.nodes)

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        lame = [name for name in self.unreachable if qname.is_subdomain(name)]
        if lame:
            response.set_rcode(dns.rcode.SERVFAIL)
            text = f"at delegation {lame[0].to_text()}"
            option = dns.edns.EDEOption(dns.edns.EDECode.NO_REACHABLE_AUTHORITY, text)
            response.use_edns(0, options=[option])
            return response
        dnssec = bool(query.ednsflags & dns.flags.DO)
        for _hop in range(8):  # follow CNAMEs inside our zones
            zone = self._zone_for(qname, qtype)
            if zone is None:
                if not response.answer:
                    response.set_rcode(dns.rcode.REFUSED)
                return response
            if self._add(response.answer, zone, qname, qtype, dnssec):
                return response
            node = zone.get_node(qname)
            cname = node and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname and qtype != dns.rdatatype.CNAME:
                self._add(response.answer, zone, qname, dns.rdatatype.CNAME, dnssec)
                qname = cname[0].target
                continue
            if not self._exists(zone, qname) and not response.answer:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self._add(response.authority, zone, zone.origin, dns.rdatatype.SOA, dnssec)
            return response
        return response


def _reply_wire(resolver: Resolver, wire: bytes, max_size: int | None) -> bytes | None:
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None
    response = resolver.answer(query)
    if max_size is None:
        return response.to_wire()
    limit = query.payload if query.edns >= 0 else 512
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.TC
        return truncated.to_wire()


class DNSServer:
    """The zones above on ``127.0.0.1:port``, UDP and TCP, in daemon threads."""

    def __init__(self, host: str = "127.0.0.1"):
        self.zones, self.trust_anchor = build_zones()
        self.resolver = Resolver(self.zones)
        self.queries: list[tuple[str, str, str]] = []
        server = self

        class UDPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                server._record(data, "udp")
                reply = _reply_wire(server.resolver, data, max_size=512)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class TCPHandler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(5)
                try:
                    while True:
                        header = self.request.recv(2, socket.MSG_WAITALL)
                        if len(header) < 2:
                            return
                        (length,) = struct.unpack("!H", header)
                        data = self.request.recv(length, socket.MSG_WAITALL)
                        server._record(data, "tcp")
                        reply = _reply_wire(server.resolver, data, max_size=None)
                        if reply is None:
                            return
                        self.request.sendall(struct.pack("!H", len(reply)) + reply)
                except OSError:
                    return

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class UDPServer(socketserver.ThreadingUDPServer):
            address_family = family

        class TCPServer(socketserver.ThreadingTCPServer):
            address_family = family
            allow_reuse_address = True

        # One port number for UDP and TCP: the UDP port the kernel picks may be taken
        # for TCP by another process, so pick again (bounded) until both are free.
        for attempt in range(50):
            self.udp = UDPServer((host, 0), UDPHandler)
            self.port = self.udp.server_address[1]
            try:
                self.tcp = TCPServer((host, self.port), TCPHandler)
                break
            except OSError:
                self.udp.server_close()
                if attempt == 49:
                    raise
        self.udp.daemon_threads = self.tcp.daemon_threads = True
        self.host = host
        for srv in (self.udp, self.tcp):
            threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def address(self) -> str:
        """``IP:port`` (``[IPv6]:port``), the form the DNS boefjes take as ``REMOTE_NS``."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def trust_anchor_text(self) -> str:
        """The DS record of ``test.`` as zone-file text (the ``dns-sec`` ``TRUST_ANCHOR``)."""
        return self.trust_anchor.to_text()

    def _record(self, wire: bytes, transport: str) -> None:
        try:
            q = dns.message.from_wire(wire).question[0]
            self.queries.append((q.name.to_text(), dns.rdatatype.to_text(q.rdtype), transport))
        except (dns.exception.DNSException, IndexError):
            self.queries.append(("", "", transport))

    def close(self) -> None:
        for srv in (self.udp, self.tcp):
            srv.shutdown()
            srv.server_close()


class SilentDNSServer:
    """A UDP and TCP port that take queries and never answer: a DNS server that drops."""

    def __init__(self, host: str = "127.0.0.1"):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind((host, self.port))
        self.tcp.listen(16)  # connections complete but are never read
        self.host = host

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()
