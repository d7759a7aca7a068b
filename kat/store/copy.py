"""``kat store copy``: a whole store from one backend to another.

The upgrade path from one machine to several: copy the embedded SQLite store into a
PostgreSQL database, then point every process at it. Both stores are migrated to the
same schema version first; rows are streamed table by table (raws in batches), with
their ids, so jobs, raws, objects and scans keep their identities and links.
"""

from __future__ import annotations

from collections.abc import Callable

from kat.store.base import TABLES, Store


class CopyRefused(ValueError):
    """The target is not empty; copying into it would mix two histories."""


def copy_store(
    source: Store, target: Store, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every table of ``source`` into the empty ``target``; rows per table."""
    held = target.count_jobs()
    if held:
        raise CopyRefused(f"the target store already holds {held} jobs; copy into an empty one")
    counts = {}
    for table in TABLES:
        counts[table] = target.import_rows(table, source.export_rows(table))
        if progress:
            progress(table, counts[table])
    return counts
