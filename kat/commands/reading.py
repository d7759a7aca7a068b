"""Reading what a user hands a command (a job file, a list of inputs, a value on
standard input) with a bound, so ``/dev/zero`` or a huge file is a clear error, not a
command that eats memory or never ends."""

from __future__ import annotations

import sys
from pathlib import Path

from kat.cli import UsageError

#: The most a job file or an inputs file may hold, in bytes.
FILE_LIMIT = 16 << 20
#: The most a value on standard input may hold, in bytes.
STDIN_LIMIT = 1 << 20


def read_text(path: Path | str, limit: int = FILE_LIMIT, what: str = "file") -> str:
    """The UTF-8 text of ``path`` (``-``: standard input), at most ``limit`` bytes."""
    name = "standard input" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(path, "rb") as source:
                data = source.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UsageError(f"{name}: the {what} is larger than {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name}: not UTF-8 text") from None
