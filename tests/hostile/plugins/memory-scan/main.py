"""Attack: reads its whole memory (``/proc/self/mem`` through ``/proc/self/maps``) for
any organisation's settings marker, and reports the markers it finds.

Its raw also carries ``kat-raw-<org>-…`` (derived from its own marker), which the
``raw-scan`` normalizer looks for in the memory of normalizer jobs.
"""

import ctypes
import json
import os
import re

PATTERN = re.compile(rb"kat-marker-[a-z]+-[0-9a-f]{8,}")
CHUNK = 8 << 20


def scan(pattern: re.Pattern) -> list[str]:
    """Every match of ``pattern`` in this process's readable memory."""
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: so /proc/self/mem opens
    found = set()
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    with open("/proc/self/mem", "rb", 0) as mem:
        for fields in regions:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "r" not in fields[1] or fields[-1] in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
                continue
            for offset in range(start, end, CHUNK):
                try:
                    mem.seek(offset)
                    data = mem.read(min(CHUNK + 64, end - offset))
                except (OSError, ValueError, OverflowError):
                    break
                found.update(m.decode() for m in pattern.findall(data))
    return sorted(found)


def run(boefje_meta: dict):
    mine = os.environ["MARKER"]
    raw_marker = mine.replace("kat-marker-", "kat-raw-")
    # Some kilobytes of records naming the raw marker: raws come in all sizes.
    records = [f"{raw_marker} {i}" for i in range(len(mine) * 4)]
    report = {"found": scan(PATTERN), "raw_marker": raw_marker, "records": records}
    return [({"application/json"}, json.dumps(report))]
