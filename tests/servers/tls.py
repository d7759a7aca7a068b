"""HTTPS servers with a chosen TLS configuration, for the testssl.sh boefjes.

``weak``: TLS 1.0 to 1.2 with a CBC/SHA-1 cipher (ECDHE-ECDSA-AES128-SHA) beside a GCM
one; ``strong``: TLS 1.2 and 1.3, AEAD ciphers only. The certificate is the test
chain's (an EC key, so the ciphers are the ECDSA ones).
"""

from __future__ import annotations

import ssl
import warnings

from tests.servers.web import CertificateChain, WebServer

#: OpenSSL cipher strings of the two configurations (TLS 1.3 suites are fixed by OpenSSL).
WEAK_CIPHERS = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-GCM-SHA384:@SECLEVEL=0"
STRONG_CIPHERS = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"


def tls_context(chain: CertificateChain, profile: str) -> ssl.SSLContext:
    """A server context for ``profile`` (``weak`` or ``strong``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain.cert_file, chain.key_file)
    with warnings.catch_warnings():  # TLS 1.0 is deprecated: that is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        if profile == "weak":
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            context.set_ciphers(WEAK_CIPHERS)
        elif profile == "strong":
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.set_ciphers(STRONG_CIPHERS)
        else:
            raise ValueError(f"unknown TLS profile {profile!r}")
    return context


def tls_server(chain: CertificateChain, profile: str) -> WebServer:
    """An HTTPS server on 127.0.0.1 (a free port) with the ``profile`` configuration."""
    server = WebServer(chain)
    context = tls_context(chain, profile)
    context.sni_callback = lambda sock, name, ctx: server.sni_names.append(name)
    server.httpd.context = context
    return server
