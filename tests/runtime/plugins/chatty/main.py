"""Writes 50 MB to stdout, then returns normally."""

import sys


def run(boefje_meta: dict):
    line = "x" * 1023 + "\n"
    for _ in range(50 * 1024):
        sys.stdout.write(line)
    sys.stdout.flush()
    return [({"text/plain"}, "done")]
