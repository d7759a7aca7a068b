"""Prints its settings, then raises."""

import os


def run(boefje_meta: dict):
    print("token is", os.environ.get("API_TOKEN"))
    raise ValueError("loud-raiser gives up")
