"""The two tiers of the suite: the fast one (``pytest -m "not e2e"``: no RabbitMQ,
PostgreSQL, gunicorn or worker processes) and the full one (``make test``).

In the fast tier each property test runs a third of the examples it runs in the full
suite (at least a few): the same properties, checked less exhaustively on every
change, and exhaustively before a merge.
"""

from __future__ import annotations

import math

#: The marker expression that selects the fast tier.
FAST_TIER = "not e2e"
#: The share of a property test's examples that the fast tier runs.
FAST_TIER_EXAMPLES = 1 / 3
#: Fewest examples a property test runs in the fast tier (unless it asks for fewer).
FAST_TIER_MIN_EXAMPLES = 5


def is_fast_tier(config) -> bool:
    """Whether this run selects the fast tier (``-m "not e2e"``)."""
    return " ".join((config.option.markexpr or "").split()) == FAST_TIER


def examples(config, full: int) -> int:
    """How many of a property test's ``full`` examples this run checks."""
    if not is_fast_tier(config):
        return full
    return min(full, max(FAST_TIER_MIN_EXAMPLES, math.ceil(full * FAST_TIER_EXAMPLES)))
