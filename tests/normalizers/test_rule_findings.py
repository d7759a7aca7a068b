"""Findings kat's normalizers draw where OpenKAT's rules (bits) would: certificates that
expire, and security headers a response lacks. Their ids have entries in the catalogue."""

from __future__ import annotations

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.plugins.helpers import input_ooi, references, run_normalizer

WEBSITE = input_ooi("Website|internet|192.0.2.1|tcp|443|https|internet|example.com")
RESOURCE = input_ooi(
    "HTTPResource|internet|192.0.2.1|tcp|443|https|internet|example.com"
    "|https|internet|example.com|443|/"
)


def certificate_raw(valid_for: datetime.timedelta) -> bytes:
    """openssl s_client-style output with one self-signed certificate ending after
    ``valid_for`` (negative: already expired)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now + valid_for)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return (
        f"CONNECTED(00000003)\n---\nCertificate chain\n 0 s:CN = example.com\n{pem}---\n".encode()
    )


@pytest.mark.parametrize(
    ("valid_for", "finding"),
    [
        (datetime.timedelta(days=-1), "KAT-CERTIFICATE-EXPIRED"),
        (datetime.timedelta(days=5), "KAT-CERTIFICATE-EXPIRING-SOON"),
        (datetime.timedelta(days=30), None),
    ],
)
def test_certificate_expiry_findings(valid_for, finding):
    out = run_normalizer("kat_ssl_certificates_normalize", WEBSITE, certificate_raw(valid_for))
    [cert] = [o for o in out if o.object_type == "X509Certificate"]
    findings = [o for o in out if o.object_type == "Finding"]
    if finding is None:
        assert findings == []
        return
    assert [f.reference for f in findings] == [f"Finding|{cert.reference}|{finding}"]
    assert f"KATFindingType|{finding}" in references(out)
    assert ("expiring soon: in 4 day" in findings[0].description) or "expired" in finding.lower()


def headers_raw(headers: dict) -> bytes:
    return json.dumps({"response": {"status": 200, "headers": headers}}).encode()


def findings_of(out) -> set[str]:
    return {o.reference.rsplit("|", 1)[1] for o in out if o.object_type == "Finding"}


def test_missing_security_headers_become_findings_on_the_resource():
    out = run_normalizer(
        "kat_missing_headers_normalize",
        RESOURCE,
        headers_raw(
            {
                "Content-Type": "text/html; charset=utf-8",
                "Server": "nginx/1.18.0",
                "Pragma": "no-cache",
            }
        ),  # fmt: skip
    )
    assert findings_of(out) == {
        "KAT-NO-HSTS", "KAT-NO-CSP", "KAT-NO-X-FRAME-OPTIONS", "KAT-NO-PERMISSIONS-POLICY",
        "KAT-NO-REFERRER-POLICY", "KAT-NO-X-CONTENT-TYPE-OPTIONS", "KAT-NONSTANDARD-HEADERS",
    }  # fmt: skip
    assert all(
        o.ooi.reference == RESOURCE["primary_key"] for o in out if o.object_type == "Finding"
    )


def test_complete_headers_and_redirects_give_no_findings():
    complete = {
        "content-type": "text/html",
        "Strict-Transport-Security": "max-age=31536000",
        "Content-Security-Policy": "default-src 'self'",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "camera=()",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    assert run_normalizer("kat_missing_headers_normalize", RESOURCE, headers_raw(complete)) == []
    redirect = headers_raw({"Location": "https://example.com/"})
    assert run_normalizer("kat_missing_headers_normalize", RESOURCE, redirect) == []


def test_plain_http_and_non_html_are_judged_as_openkat_does():
    http = input_ooi(
        "HTTPResource|internet|192.0.2.1|tcp|80|http|internet|example.com"
        "|http|internet|example.com|80|/"
    )
    out = run_normalizer(
        "kat_missing_headers_normalize", http, headers_raw({"Content-Type": "image/png"})
    )
    assert "KAT-NO-HSTS" not in findings_of(out) and "KAT-NO-CSP" not in findings_of(out)
    assert "KAT-NO-X-FRAME-OPTIONS" in findings_of(out)


def test_an_outdated_server_banner_gives_software_and_a_finding():
    raw = headers_raw({"Server": "nginx/1.18.0 (Ubuntu)", "X-Powered-By": "PHP/8.3.1"})
    out = run_normalizer("kat_server_software_normalize", RESOURCE, raw)
    instance = f"SoftwareInstance|{RESOURCE['primary_key']}|Software|nginx|1.18.0|"
    assert references(out) == [
        "Software|nginx|1.18.0|",
        instance,
        "KATFindingType|KAT-OUTDATED-SOFTWARE",
        f"Finding|{instance}|KAT-OUTDATED-SOFTWARE",
        "Software|PHP|8.3.1|",
        f"SoftwareInstance|{RESOURCE['primary_key']}|Software|PHP|8.3.1|",
    ]
    assert "older than 1.26.0" in out[3].description


@pytest.mark.parametrize("server", ["nginx", "Apache", "", "nginx/1.27.3", "Unknown/0.1"])
def test_banners_without_an_outdated_version_give_no_finding(server):
    out = run_normalizer("kat_server_software_normalize", RESOURCE, headers_raw({"Server": server}))
    assert not [o for o in out if o.object_type == "Finding"]
