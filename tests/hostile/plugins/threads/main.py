"""An ordinary threaded plugin: 64 threads at once, each with 1 MiB of its own."""

import threading
from concurrent.futures import ThreadPoolExecutor

THREADS = 64


def run(boefje_meta: dict):
    barrier = threading.Barrier(THREADS, timeout=30)

    def work(number: int) -> int:
        block = bytearray(1 << 20)
        barrier.wait()  # every thread alive at the same time
        return len(block) + number - number

    with ThreadPoolExecutor(THREADS) as pool:
        total = sum(pool.map(work, range(THREADS)))
    return [({"text/plain"}, str(total))]
