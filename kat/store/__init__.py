"""The store: jobs, raws, objects and scans behind one interface."""

from kat.store.sqlite import Store, timestamp

__all__ = ["Store", "timestamp"]
