"""Attack: SIGSTOPs its job helper (the topmost ancestor running kat.runtime.forker),
once: a retry of the job (its file ``FLAG`` exists) leaves it be."""

import contextlib
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
    flag = Path(os.environ["FLAG"])
    if flag.exists():
        return [({"application/json"}, json.dumps([None, "again"]))]
    with contextlib.suppress(OSError):  # a job user that cannot write it still attacks
        flag.write_text("attacked")
    helpers = [
        p for p in ancestors() if b"kat.runtime.forker" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    if not helpers:
        return [({"application/json"}, json.dumps([None, "no helper found"]))]
    try:
        os.kill(helpers[-1], signal.SIGSTOP)
    except OSError as exc:
        return [({"application/json"}, json.dumps([helpers[-1], type(exc).__name__]))]
    return [({"application/json"}, json.dumps([helpers[-1], "stopped"]))]
