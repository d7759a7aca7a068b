"""Attack: SIGKILLs its own Dramatiq worker process (the first ancestor whose command
line names dramatiq) and reports what happened."""

import json
import os
import signal
from pathlib import Path


def ancestors():
    pid = os.getppid()
    while pid > 1:
        yield pid
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])


def run(boefje_meta: dict):
    for pid in ancestors():
        if b"dramatiq" in Path(f"/proc/{pid}/cmdline").read_bytes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError as exc:
                return [({"application/json"}, json.dumps([pid, type(exc).__name__]))]
            return [({"application/json"}, json.dumps([pid, "killed"]))]
    return [({"application/json"}, json.dumps([None, "no worker found"]))]
