"""Attack: four forked children of 900 MB each, under the default 1 GiB job limit."""

import os
import time

CHILDREN = 4
SIZE = 900 << 20


def run(boefje_meta: dict):
    pids = []
    for _ in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            try:
                block = b"x" * SIZE  # written, so it is resident
                time.sleep(10)
                os._exit(0 if len(block) == SIZE else 1)
            except BaseException:
                os._exit(1)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    return [({"text/plain"}, f"children ended with {codes}")]
