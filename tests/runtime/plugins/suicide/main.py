"""SIGKILLs itself."""

import os
import signal


def run(boefje_meta: dict):
    os.kill(os.getpid(), signal.SIGKILL)
