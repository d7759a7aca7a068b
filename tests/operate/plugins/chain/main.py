"""Returns the input hostname as its raw."""


def run(boefje_meta: dict):
    return [({"text/plain"}, boefje_meta["arguments"]["input"]["name"])]
