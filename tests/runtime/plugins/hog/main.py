"""Allocates 4 GiB under a 256 MiB limit."""


def run(boefje_meta: dict):
    block = bytearray(4 << 30)
    return [({"text/plain"}, str(len(block)))]
