"""Takes a moment, notes that it ran (one line per run in RUN_LOG, when given), then
returns which input it ran on."""

import os
import time


def run(boefje_meta: dict):
    time.sleep(float(os.environ.get("PAUSE", "0.3")))
    log = os.environ.get("RUN_LOG")
    if log:
        with open(log, "a") as out:
            out.write(boefje_meta["id"] + "\n")
    return [({"text/plain"}, boefje_meta["input_ooi"])]
