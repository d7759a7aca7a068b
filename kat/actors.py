"""``dramatiq kat.actors``: the name users type for the worker module.

The actors live in :mod:`kat.runtime.actors`; this module *is* that module (one
object under both names), so the broker, the actors and their state exist once.
"""

import sys

from kat.runtime import actors as _actors

sys.modules[__name__] = _actors
