"""Returns a raw of 1 MiB: a few of these fill a small disk."""


def run(boefje_meta: dict):
    return [({"application/octet-stream"}, b"\x5a" * (1 << 20))]
