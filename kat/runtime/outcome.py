"""What a job's child reports, decoded without trusting it.

The child's outcome is a JSON header plus raw bytes, never a pickle. The plugin can
write this pipe itself, so every field the worker uses is checked: a forged outcome
fails its own job (``bad-output``) instead of raising in the worker, where an
exception is taken for a broken sandbox and retried.
"""

from __future__ import annotations

import json
import os
import signal
import struct
from dataclasses import dataclass, field
from typing import Any

from kat.jobs import FailureReason


@dataclass
class Outcome:
    """What one child run produced."""

    ok: bool
    reason: FailureReason | None = None
    detail: str = ""
    raws: list[tuple[list[str], bytes]] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0  #: seconds from fork to exit
    output: bytes = b""  #: tail of the child's stdout/stderr (failed jobs only)


def _all(items: Any, check) -> bool:
    return isinstance(items, list) and all(check(item) for item in items)


def _raw_item(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and _all(item.get("mime_types"), lambda m: isinstance(m, str))
        and type(item.get("size")) is int
        and item["size"] >= 0
    )


def _object_item(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("object_type"), str)
        and isinstance(item.get("primary_key"), str)
    )


def decode(data: bytes, wait_status: int) -> Outcome:
    """The child's message, or the reason it left none (a signal, an early exit)."""
    if len(data) >= 4:
        (size,) = struct.unpack("!I", data[:4])
        try:
            header = json.loads(data[4 : 4 + size])
        except ValueError:
            header = None
        if isinstance(header, dict) and not header.get("ok"):
            try:
                reason = FailureReason(header.get("reason"))
            except ValueError:
                reason = FailureReason.BAD_OUTPUT
            return Outcome(False, reason, str(header.get("detail", "")))
        if isinstance(header, dict):
            # The plugin can write this pipe itself: check every field the worker uses,
            # so a forged outcome fails its job instead of raising in the worker.
            blob, raws, offset = data[4 + size :], [], 0
            items, objects = header.get("raws", []), header.get("objects", [])
            if not (_all(items, _raw_item) and _all(objects, _object_item)):
                return Outcome(False, FailureReason.BAD_OUTPUT, "the job sent a malformed result")
            for item in items:
                raws.append((item["mime_types"], blob[offset : offset + item["size"]]))
                offset += item["size"]
            if offset == len(blob):
                return Outcome(True, raws=raws, objects=objects)
    if os.WIFSIGNALED(wait_status):
        name = signal.Signals(os.WTERMSIG(wait_status)).name
        return Outcome(False, FailureReason.KILLED, f"the job's process died from {name}")
    code = os.waitstatus_to_exitcode(wait_status)
    return Outcome(
        False, FailureReason.CRASHED, f"the job's process exited ({code}) without a result"
    )
