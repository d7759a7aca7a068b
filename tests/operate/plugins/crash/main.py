"""Raises for every input."""


def run(boefje_meta: dict):
    raise RuntimeError("crash on " + boefje_meta["arguments"]["input"]["name"])
