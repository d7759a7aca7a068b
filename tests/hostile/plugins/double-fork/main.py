"""Attack: a double fork whose grandchild calls setsid() and sleeps, to outlive the
job; returns the grandchild's pid."""

import os
import signal
import time


def run(boefje_meta: dict):
    read, write = os.pipe()
    first = os.fork()
    if first == 0:
        if os.fork() == 0:
            os.setsid()
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.write(write, str(os.getpid()).encode())
            os.close(write)
            time.sleep(600)
        os._exit(0)
    os.close(write)
    os.waitpid(first, 0)
    grandchild = os.read(read, 32).decode()
    return [({"text/plain"}, grandchild)]
