"""``kat.pluginkit``: the settings readers, DNS helpers, deadlines and raw readers plugins share."""

from __future__ import annotations

import threading
import time

import dns.exception
import dns.rdatatype
import pytest

from kat import pluginkit
from kat.ooi import Network
from kat.pluginkit import Budget, within

#: Room for thread start-up on a slow or busy machine (the fast tier runs two workers);
#: the bound itself is what the test gives, and what is waited on takes far longer.
MARGIN = 1.5


# -- TIMEOUT ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [(None, 15.0), ("", 15.0), ("2.5", 2.5)])
def test_timeout_reads_the_setting_or_the_plugins_default(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("TIMEOUT", value)
    assert pluginkit.timeout(default=15.0) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "TIMEOUT='soon' is not a number"),
        ("0", "TIMEOUT=0.0 must be more than 0"),
        ("-3", "TIMEOUT=-3.0 must be more than 0"),
    ],
)
def test_a_bad_timeout_is_an_error_naming_the_setting(monkeypatch, value, message):
    monkeypatch.setenv("TIMEOUT", value)
    with pytest.raises(ValueError) as caught:
        pluginkit.timeout(default=15.0)
    assert str(caught.value) == message


# -- REMOTE_NS -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.1.1.1", ("1.1.1.1", 53)),
        (" 127.0.0.1:5353 ", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("[2001:db8::53]", ("2001:db8::53", 53)),
        ("2001:db8::53", ("2001:db8::53", 53)),
    ],
)
def test_parse_nameserver_forms(text, expected):
    assert pluginkit.parse_nameserver(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("dns.example", "not an IP address"),
        ("1.2.3.4:x", "the port must be a number"),
        ("[::1]x", "expected [IPv6]:port"),
        ("[::1]:", "expected [IPv6]:port"),
        ("1.2.3.4:70000", "port out of range"),
        ("1.2.3.4:0", "port out of range"),
        ("1.1.1.1 ; rm", "not an IP address"),
    ],
)
def test_a_bad_nameserver_is_an_error_naming_remote_ns(text, reason):
    with pytest.raises(ValueError) as caught:
        pluginkit.parse_nameserver(text)
    assert str(caught.value).startswith(f"REMOTE_NS={text.strip()!r}: {reason}")


def test_nameserver_defaults_to_openkats_resolver(monkeypatch):
    monkeypatch.delenv("REMOTE_NS", raising=False)
    assert pluginkit.nameserver() == ("1.1.1.1", 53)
    assert pluginkit.nameserver(default="9.9.9.9:5353") == ("9.9.9.9", 5353)
    monkeypatch.setenv("REMOTE_NS", "")
    assert pluginkit.nameserver() == ("1.1.1.1", 53)
    monkeypatch.setenv("REMOTE_NS", "[::1]:5353")
    assert pluginkit.nameserver() == ("::1", 5353)


@pytest.mark.timeout(20)
def test_resolver_asks_only_remote_ns(monkeypatch, dns_server):
    monkeypatch.setenv("REMOTE_NS", dns_server.address)
    before = len(dns_server.queries)
    answer = pluginkit.resolver().resolve("example.test", "A", lifetime=5)
    assert [rr.to_text() for rr in answer] == ["127.0.0.1"]
    assert answer.nameserver == "127.0.0.1" and answer.port == dns_server.port
    assert dns_server.queries[before:] == [("example.test.", "A", "udp")]


@pytest.mark.timeout(20)
def test_resolver_gives_up_within_its_lifetime_on_a_silent_server(monkeypatch, silent_dns_server):
    monkeypatch.setenv("REMOTE_NS", silent_dns_server.address)
    started = time.monotonic()
    with pytest.raises(dns.exception.Timeout):
        pluginkit.resolver().resolve("example.test", "A", lifetime=0.5)
    assert time.monotonic() - started < 0.5 + MARGIN


def test_resolver_rejects_a_bad_remote_ns(monkeypatch):
    monkeypatch.setenv("REMOTE_NS", "resolver.example")
    with pytest.raises(ValueError, match="REMOTE_NS='resolver.example'"):
        pluginkit.resolver()


# -- web -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "scheme", "port", "expected"),
    [
        ("example.com", "https", 443, "example.com"),
        ("example.com", "http", 80, "example.com"),
        ("example.com", "http", 443, "example.com:443"),
        ("example.com", "https", 8443, "example.com:8443"),
        ("::1", "http", 8080, "[::1]:8080"),
        ("::1", "https", 443, "[::1]"),
        ("192.0.2.1", "ftp", 21, "192.0.2.1:21"),
    ],
)
def test_netloc_brackets_ipv6_and_leaves_out_the_schemes_port(host, scheme, port, expected):
    assert pluginkit.netloc(host, scheme, port) == expected


# -- deadlines -------------------------------------------------------------------------


def test_budget_counts_down_to_its_deadline():
    budget = Budget(0.2)
    assert budget.seconds == 0.2
    assert 0 < budget.left() <= 0.2
    time.sleep(0.25)
    assert budget.left() <= 0


def test_within_returns_the_value_and_raises_the_functions_error():
    assert within(5, lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(KeyError, match="missing"):
        within(5, lambda: {}["missing"])


@pytest.mark.timeout(10)
def test_within_stops_waiting_at_the_deadline():
    release = threading.Event()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError, match="no complete answer within 0.3 s"):
            within(0.3, release.wait, 30)
        assert time.monotonic() - started < 0.3 + MARGIN
    finally:
        release.set()


# -- raw readers -----------------------------------------------------------------------

RAW_RESPONSE = """RESOLVER: 127.0.0.1
id 1234
opcode QUERY
rcode NOERROR
flags QR AA RD
;QUESTION
example.test. IN A
;ANSWER
example.test. 300 IN A 127.0.0.1
;AUTHORITY
;ADDITIONAL"""


def test_json_raw_parses_or_names_the_raw():
    assert pluginkit.json_raw(b'{"a": [1]}', "x raw is not JSON") == {"a": [1]}
    with pytest.raises(ValueError, match=r"^x raw is not JSON: Expecting value"):
        pluginkit.json_raw(b"<html>", "x raw is not JSON")


def test_strip_resolver_line_drops_only_a_leading_resolver_line():
    assert pluginkit.strip_resolver_line("RESOLVER: 1.1.1.1\nid 1") == "id 1"
    assert pluginkit.strip_resolver_line("id 1\nRESOLVER: 1.1.1.1") == "id 1\nRESOLVER: 1.1.1.1"
    assert pluginkit.strip_resolver_line("RESOLVER: 1.1.1.1") == ""


def test_dns_response_reads_openkats_raw():
    message = pluginkit.dns_response(RAW_RESPONSE, "raw is not a DNS response")
    assert message.id == 1234
    [rrset] = message.answer
    assert rrset.rdtype == dns.rdatatype.A and [rr.to_text() for rr in rrset] == ["127.0.0.1"]


@pytest.mark.parametrize("text", ["RESOLVER: 1.1.1.1\nid x", "id 1\n;ANSWER\nexample.test. 300"])
def test_a_malformed_dns_raw_is_an_error_with_the_callers_words(text):
    with pytest.raises(ValueError, match=r"^rdns raw is not a DNS response: "):
        pluginkit.dns_response(text, "rdns raw is not a DNS response")


def test_dns_message_keeps_a_resolver_line_as_an_error():
    with pytest.raises(ValueError, match=r"^dmarc is not a DNS message: "):
        pluginkit.dns_message(RAW_RESPONSE, "dmarc is not a DNS message")


@pytest.mark.parametrize(
    ("input_ooi", "name"),
    [
        ({"network": {"name": "lab"}, "name": "example.test"}, "lab"),
        ({"network": None, "name": "example.test"}, "internet"),
        ({"name": "example.test"}, "internet"),
    ],
)
def test_network_of_an_input_object(input_ooi, name):
    assert pluginkit.network_of(input_ooi) == Network(name=name)
