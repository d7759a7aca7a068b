"""A name server on 127.0.0.1 (UDP) that tells its version: the CHAOS TXT record
``VERSION.BIND`` (an old BIND by default); every other question is REFUSED."""

from __future__ import annotations

import socket
import threading

import dns.exception
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

#: A BIND release long past its end of life, as a Red Hat build names itself.
OLD_BIND = "9.11.4-P2-RedHat-9.11.4-26.P2.el7"


class VersionDNSServer:
    def __init__(self, version: str = OLD_BIND, host: str = "127.0.0.1"):
        self.version = version
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.host, self.port = host, self.sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
                query = dns.message.from_wire(data)
            except (TimeoutError, dns.exception.DNSException):
                continue
            except OSError:
                return
            response = dns.message.make_response(query)
            question = query.question[0] if query.question else None
            if (
                question is not None
                and question.rdclass == dns.rdataclass.CHAOS
                and question.rdtype == dns.rdatatype.TXT
                and question.name.to_text().lower() == "version.bind."
            ):
                response.answer.append(
                    dns.rrset.from_text(question.name, 0, "CH", "TXT", f'"{self.version}"')
                )
            else:
                response.set_rcode(dns.rcode.REFUSED)
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
