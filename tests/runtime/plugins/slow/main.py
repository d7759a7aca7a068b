"""Takes a few seconds (SLEEP), then returns: a job to kill a worker under."""

import os
import time


def run(boefje_meta: dict):
    time.sleep(float(os.environ.get("SLEEP", "4")))
    return [({"text/plain"}, "slept")]
