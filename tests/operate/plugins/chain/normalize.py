"""Two new sub-domains of the input (a. and b.), the input again and one name that every
job finds (shared.test): a tree that grows two-fold per level, with repeats."""

from kat.ooi import Hostname, Network


def run(input_ooi: dict, raw: bytes):
    network = Network(name=input_ooi["network"]["name"])
    name = raw.decode()
    yield Hostname(network=network, name=name)
    yield Hostname(network=network, name="a." + name)
    yield Hostname(network=network, name="b." + name)
    yield Hostname(network=network, name="shared.test")
