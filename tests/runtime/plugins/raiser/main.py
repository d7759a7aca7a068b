"""Raises."""


def run(boefje_meta: dict):
    raise RuntimeError("the raiser boefje always fails")
