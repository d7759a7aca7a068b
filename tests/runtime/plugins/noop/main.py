"""Returns the input hostname: the ordinary job."""


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    return [({"text/plain"}, boefje_meta["arguments"]["input"]["name"])]
