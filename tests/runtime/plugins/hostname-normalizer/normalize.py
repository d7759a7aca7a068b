"""Yields the input hostname and one sub-domain named by the raw."""

from kat.ooi import Hostname, Network


def run(input_ooi: dict, raw: bytes):
    network = Network(name=input_ooi["network"]["name"])
    yield Hostname(network=network, name=input_ooi["name"])
    yield Hostname(network=network, name="www." + raw.decode())
