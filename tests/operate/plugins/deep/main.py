"""A scan-level 3 boefje: runs only when a scan allows level 3."""


def run(boefje_meta: dict):
    return [({"text/plain"}, "deep")]
