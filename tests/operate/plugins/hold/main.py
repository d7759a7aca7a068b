"""Writes '<address>.started' in HOLD_DIR, then waits until '<address>.release' exists
there (or 0.0.0.0: ends at once): a job that runs exactly as long as a test wants."""

import os
import time
from pathlib import Path


def run(boefje_meta: dict):
    address = boefje_meta["arguments"]["input"]["address"]
    folder = Path(os.environ["HOLD_DIR"])
    (folder / f"{address}.started").touch()
    while address != "0.0.0.0" and not (folder / f"{address}.release").exists():
        time.sleep(0.05)
    return [({"text/plain"}, address)]
