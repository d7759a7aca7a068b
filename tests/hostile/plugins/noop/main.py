"""The ordinary job: returns the input hostname."""


def run(boefje_meta: dict):
    return [({"text/plain"}, boefje_meta["arguments"]["input"]["name"])]
